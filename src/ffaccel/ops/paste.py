"""``paste_back`` and ``paste_back_batch``: put swapped face crops back into the frame.

Kernel: ``kernels/include/ffaccel/paste_back.h`` (the per-pixel formula, reusing the warp
sampling of ``warp_affine.h``), ``kernels/cpu/paste_back.cpp``, ``kernels/cuda/paste_back.cu``,
``kernels/bindings/paste_back.cpp``. Tests: ``tests/test_paste.py``.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from ffaccel import _arrays, _core
from ffaccel.ops import _checks
from ffaccel.ops._matrix import host_matrices, invert_affine

__all__ = ["paste_back", "paste_back_batch", "paste_areas", "PASTE_COMPAT", "PASTE_BLENDS"]

#: ``compat`` values: kernel mode, truncation, and how paste areas are rounded.
#: ``"facefusion"`` follows the installed cv2 (:mod:`ffaccel.opencv_compat`);
#: ``"facefusion-opencv5"`` is a deprecated alias of ``"facefusion-opencv5.0"``.
PASTE_COMPAT = (None, "facefusion", "facefusion-opencv4", "facefusion-opencv5.0")

_FRAME = {np.dtype(np.uint8): (3, 4)}
_CROP = {np.dtype(np.uint8): (3, 4), np.dtype(np.float32): (3, 4)}
_MASK = {np.dtype(np.float32): (1,), np.dtype(np.uint8): (1,)}


def _compat(compat: Any) -> tuple[int, bool]:
    """(kernel mode, FaceFusion semantics) for a ``compat`` value."""
    if compat is None:
        return 0, False
    if compat == "facefusion":
        from ffaccel.opencv_compat import opencv_compat_mode

        compat = "facefusion-" + opencv_compat_mode()
    if compat == "facefusion-opencv5":
        warnings.warn("compat='facefusion-opencv5' is deprecated: it means 'facefusion-opencv5.0' (OpenCV 5.1 "
                      "differs); pass 'facefusion-opencv5.0', or 'facefusion' to follow the installed cv2",
                      DeprecationWarning, stacklevel=4)
        compat = "facefusion-opencv5.0"
    if compat == "facefusion-opencv5.0":
        return 1, True
    if compat == "facefusion-opencv4":
        return 2, True
    raise ValueError(f"compat: expected one of {PASTE_COMPAT}, got {compat!r}")


def paste_areas(frame_size: tuple[int, int], crop_size: tuple[int, int], matrices: Any,
                facefusion: bool = False) -> np.ndarray:
    """The paste areas :func:`paste_back` reads and writes, for N frame -> crop matrices.

    The crop's corners (0, 0), (w, 0), (w, h), (0, h) are mapped into the frame by the
    inverse matrix; the area runs from the floor of their minimum to the ceil of their
    maximum, clipped to the frame. FaceFusion's calculate_paste_area means the same, but
    its corner array is integer, so OpenCV's transform returns the corners rounded half
    to even and floor/ceil change nothing; ``facefusion=True`` reproduces that.

    Args:
        frame_size: (width, height) of the frame.
        crop_size: (width, height) of the crops.
        matrices: (2, 3) or (N, 2, 3) host frame -> crop matrices.
        facefusion: round the corners as FaceFusion effectively does.

    Returns:
        (N, 4) int64 rows x1, y1, x2, y2; x2 <= x1 or y2 <= y1 means the face misses the frame.

    Example:
        >>> import numpy as np, ffaccel.ops.paste as p
        >>> p.paste_areas((640, 480), (128, 128), np.array([[1.0, 0, -100.5], [0, 1.0, -50.0]])).tolist()
        [[100, 50, 229, 178]]
    """
    m = np.asarray(matrices, np.float64)
    m = host_matrices(m, "matrices", batched=m.ndim == 3).reshape(-1, 6)
    invert_affine(m.reshape(-1, 2, 3), "matrices")  # validation: finite and invertible
    areas = np.empty((len(m), 4), np.int64)
    _core.paste_areas(np.ascontiguousarray(m), int(frame_size[0]), int(frame_size[1]), int(crop_size[0]),
                      int(crop_size[1]), bool(facefusion), areas)
    return areas


#: ``blend`` values: one-pass alpha blend, or Laplacian-pyramid (multi-band) blend.
PASTE_BLENDS = ("alpha", "multiband")
_MAX_LEVELS = 10  # kMultibandMaxLevels in kernels/include/ffaccel/multiband.h


def _blend(blend: Any, levels: Any, compat: Any) -> int:
    """Pyramid levels for ``blend`` (0 for alpha), validated."""
    if blend == "alpha":
        return 0
    if blend != "multiband":
        raise ValueError(f"blend: expected one of {PASTE_BLENDS}, got {blend!r}")
    if isinstance(levels, bool) or not isinstance(levels, int | np.integer) or not 1 <= levels <= _MAX_LEVELS:
        raise ValueError(f"levels: expected an integer 1..{_MAX_LEVELS}, got {levels!r}")
    if compat is not None:
        raise ValueError(f"compat: {compat!r} reproduces FaceFusion's alpha paste; blend='multiband' needs compat=None")
    return int(levels)


def _run(frame: Any, crops: Any, masks: Any, matrices: Any, compat: Any, inplace: bool, out: Any, batched: bool,
         blend: Any = "alpha", levels: Any = 5) -> Any:
    pyramid_levels = _blend(blend, levels, compat)
    f = _checks.image(frame, "frame", _FRAME)
    if f.planar:
        raise ValueError("frame: expected shape (H, W, C) with 3 or 4 channels")
    crops_name, masks_name = ("crops", "masks") if batched else ("crop", "mask")
    cv = _arrays.view(crops, crops_name)
    mv = _arrays.view(masks, masks_name)
    _checks.same_device([("frame", f.view), (crops_name, cv), (masks_name, mv)])
    n = 1
    if batched:
        if len(cv.shape) != 4:
            raise ValueError(f"crops: expected shape (N, h, w, C), got {cv.shape}")
        if len(mv.shape) != 3:
            raise ValueError(f"masks: expected shape (N, h, w), got {mv.shape}")
        n = cv.shape[0]
        if mv.shape[0] != n:
            raise ValueError(f"masks: expected {n} masks to match crops, got {mv.shape[0]}")
        if n == 0:
            raise ValueError("crops: needs at least one crop")
        crop_shape, mask_shape = cv.shape[1:], mv.shape[1:]
    else:
        crop_shape, mask_shape = cv.shape, mv.shape
    if len(crop_shape) != 3:
        raise ValueError(f"{crops_name}: expected shape (h, w, C), got {cv.shape}")
    if cv.dtype not in _CROP:
        raise TypeError(f"{crops_name}: dtype {cv.dtype} is not supported (expected uint8 or float32)")
    if crop_shape[2] != f.c:
        raise ValueError(f"{crops_name}: has {crop_shape[2]} channels but frame has {f.c}")
    if mv.dtype not in _MASK:
        raise TypeError(f"{masks_name}: dtype {mv.dtype} is not supported (expected float32 0..1 or uint8 0..255)")
    if tuple(mask_shape) != tuple(crop_shape[:2]):
        raise ValueError(f"{masks_name}: expected shape {tuple(crop_shape[:2])} to match the crop, got {tuple(mask_shape)}")
    if crop_shape[0] == 0 or crop_shape[1] == 0:
        raise ValueError(f"{crops_name}: crop is empty")
    for name, v in ((crops_name, cv), (masks_name, mv)):
        if not v.c_contiguous:
            raise ValueError(f"{name}: must be C-contiguous")
    m = host_matrices(matrices, "matrices" if batched else "matrix", batched)
    if m.shape[0] != n:
        raise ValueError(f"matrices: expected {n} matrices to match crops, got {m.shape[0]}")
    mode, facefusion = _compat(compat)
    if facefusion and mv.dtype != np.float32:
        raise TypeError(f"{masks_name}: compat={compat!r} needs a float32 mask (0..1), as FaceFusion uses")
    if inplace and out is not None:
        raise ValueError("out: cannot be given together with inplace=True")
    for name, v in ((crops_name, cv), (masks_name, mv)):
        if _arrays.overlaps(f.view, v):
            raise ValueError(f"{name}: must not share memory with frame")
    if inplace:
        out_obj, o = frame, f.view
    else:
        out_obj, o = _checks.output(out, f, (f.h, f.w, f.c), f.view.dtype)
        for name, v in ((crops_name, cv), (masks_name, mv)):
            if _arrays.overlaps(o, v):
                raise ValueError(f"out: must not share memory with {name}")
    invert_affine(m, "matrices" if batched else "matrix")  # finite and invertible, or a named error
    ch, cw = crop_shape[0], crop_shape[1]
    crop_img = _core.Image(cv.ptr, ch, cw, f.c, cv.strides[-3], cv.strides[0] if batched else 0,
                           _core.DType.U8 if cv.dtype == np.uint8 else _core.DType.F32)
    mask_img = _core.Image(mv.ptr, ch, cw, 1, mv.strides[-2], mv.strides[0] if batched else 0,
                           _core.DType.U8 if mv.dtype == np.uint8 else _core.DType.F32)
    out_img = _core.Image(o.ptr, f.h, f.w, f.c, o.strides[0], 0, _core.DType.U8)
    if pyramid_levels:
        mats = m.reshape(-1, 6)
        floats = _core.multiband_workspace_floats(mats, f.w, f.h, cw, ch, f.c, pyramid_levels)
        # The pyramids live in a per-call float32 workspace of the frame's own framework
        # (numpy, or the cupy/torch allocator on the current stream), so no memory is
        # allocated behind the caller's allocator: about (4/3 (C + 1) + C / 4) floats per
        # pixel of the largest paste area.
        workspace = _arrays.empty(f.view, (max(floats, 1),), np.dtype(np.float32))
        wv = _arrays.view(workspace, "workspace")
        _core.paste_back_multiband(f.core_image(), out_img, crop_img, mask_img, mats, bool(inplace), pyramid_levels,
                                   wv.ptr, floats, f.view.device, _arrays.current_stream(f.view))
        return out_obj
    _core.paste_back(f.core_image(), out_img, crop_img, mask_img, m.reshape(-1, 6), mode, facefusion,
                     bool(inplace), f.view.device, _arrays.current_stream(f.view))
    return out_obj


def paste_back(frame: Any, crop: Any, mask: Any, matrix: Any, *, compat: str | None = None, inplace: bool = False,
               out: Any = None, blend: str = "alpha", levels: int = 5) -> Any:
    """Blend a swapped face crop back into the frame through the matrix that cut it out.

    Only the paste area (the bounding box of the crop's footprint, see
    :func:`paste_areas`) is read and written. For each pixel there, with ``m`` the mask
    warped into the frame (bilinear, CONSTANT 0 outside the crop, clipped to 0..1) and
    ``c`` the crop warped into the frame (bilinear, REPLICATE), the pixel becomes
    ``frame * (1 - m) + c * m``, computed in float32 in one fused pass.

    Args:
        frame: (H, W, C) uint8 frame, C = 3 or 4 (channel order does not matter). numpy
            runs on the CPU; cupy/torch CUDA arrays on their device and current stream.
        crop: (h, w, C) uint8 or float32 (0..255) swapped crop, same kind/device as frame.
        mask: (h, w) float32 (0..1) or uint8 (0..255) soft mask of the crop.
        matrix: (2, 3) host array, the frame -> crop matrix the crop was made with.
        compat: ``None``: ffaccel's warp formula, unrounded samples, result rounded half
            to even. ``"facefusion"``: byte-identical to FaceFusion 3.5-3.8's
            face_helper.paste_back under the installed OpenCV, whose warp mode
            :func:`ffaccel.opencv_compat.opencv_compat_mode` picks (ValueError naming the
            version when none matches; or say which with ``"facefusion-opencv4"`` /
            ``"facefusion-opencv5.0"``; ``"facefusion-opencv5"`` is a deprecated alias of
            the latter): OpenCV's
            warps, float32 blend, truncation toward zero as numpy's astype(uint8). Needs
            a float32 mask. FaceFusion's truncation darkens the face by half a level on
            average, which the default avoids. Values outside 0..255 saturate (numpy's
            cast of such values is undefined).
        inplace: write into ``frame`` itself and return it.
        out: optional (H, W, C) uint8 result buffer (same kind/device as frame); not
            allowed with ``inplace``.
        blend: ``"alpha"`` (the formula above) or ``"multiband"``: Laplacian-pyramid
            blending over the paste area (docs/blending.md): ``D = c - frame`` and ``m``
            get Gaussian pyramids (5-tap [1 4 6 4 1]/16, reflect-101), each band of D
            is weighted by the mask's level, the bands are collapsed and the area becomes
            ``round_half_even(frame + collapse)``. Low frequencies (skin tone, lighting)
            cross the seam over a wide band, fine detail over a narrow one. CPU and GPU
            give the same bytes. Needs ``compat=None``. Uses a per-call float32
            workspace from the frame's framework of about (4/3 (C + 1) + C / 4) floats
            per paste-area pixel (7.6 MB for a 560 x 560 area, C = 3).
        levels: number of pyramid reductions for ``"multiband"`` (1..10; 5 as
            OpenCV's MultiBandBlender default).

    Returns:
        The frame with the face pasted: a new array, ``out``, or ``frame`` when in place.
        A face whose area misses the frame leaves it unchanged.

    Raises:
        TypeError, ValueError: bad arguments, named in the message; nothing is written.

    Example:
        >>> import numpy as np, ffaccel
        >>> frame = np.zeros((480, 640, 3), np.uint8)
        >>> crop = np.full((128, 128, 3), 200, np.uint8)
        >>> mask = np.ones((128, 128), np.float32)
        >>> M = np.array([[1.0, 0, -100], [0, 1.0, -50]])  # crop = frame[50:178, 100:228]
        >>> out = ffaccel.paste_back(frame, crop, mask, M)
        >>> int(out[100, 150, 0]), int(out[10, 10, 0])
        (200, 0)
    """
    return _run(frame, crop, mask, matrix, compat, inplace, out, batched=False, blend=blend, levels=levels)


def paste_back_batch(frame: Any, crops: Any, masks: Any, matrices: Any, *, compat: str | None = None,
                     inplace: bool = False, out: Any = None, blend: str = "alpha", levels: int = 5) -> Any:
    """Paste N faces into one frame in one launch, in order.

    Same formula and arguments as :func:`paste_back`, with ``crops`` (N, h, w, C),
    ``masks`` (N, h, w) and ``matrices`` (N, 2, 3). Where faces overlap, face i lands
    over face i - 1: the result equals N successive ``paste_back`` calls byte for byte
    (for ``blend="multiband"`` too: each face is blended into the result of the ones
    before it).

    Example:
        >>> import numpy as np, ffaccel
        >>> frame = np.zeros((240, 320, 3), np.uint8)
        >>> crops = np.stack([np.full((64, 64, 3), v, np.uint8) for v in (100, 200)])
        >>> masks = np.ones((2, 64, 64), np.float32)
        >>> Ms = np.array([[[1.0, 0, -10], [0, 1.0, -10]], [[1.0, 0, -40], [0, 1.0, -10]]])
        >>> out = ffaccel.paste_back_batch(frame, crops, masks, Ms)
        >>> int(out[20, 20, 0]), int(out[20, 60, 0])
        (100, 200)
    """
    return _run(frame, crops, masks, matrices, compat, inplace, out, batched=True, blend=blend, levels=levels)
