"""``paste_back`` and ``paste_back_batch``: put swapped face crops back into the frame.

Kernel: ``kernels/include/ffaccel/paste_back.h`` (the per-pixel formula, reusing the warp
sampling of ``warp_affine.h``), ``kernels/cpu/paste_back.cpp``, ``kernels/cuda/paste_back.cu``,
``kernels/bindings/paste_back.cpp``. Tests: ``tests/ops/test_paste_back.py``.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from ffaccel import _arrays, _checks, _core, _fast

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
    if not isinstance(compat, str):  # before any ==: an array would compare elementwise
        raise ValueError(f"compat: expected one of {PASTE_COMPAT}, got {compat!r}")
    if compat == "facefusion":
        from ffaccel.opencv_compat import OpenCVVersionError, opencv_compat_mode

        try:
            compat = "facefusion-" + opencv_compat_mode()
        except OpenCVVersionError as exc:  # the message names the argument, as every check's does
            raise OpenCVVersionError(f"compat: {exc}") from None
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
        >>> import numpy as np
        >>> from ffaccel.ops.paste_back import paste_areas
        >>> paste_areas((640, 480), (128, 128), np.array([[1.0, 0, -100.5], [0, 1.0, -50.0]])).tolist()
        [[100, 50, 229, 178]]
    """
    m = _checks.real_array(matrices, "matrices")
    m = _checks.affine(m, "matrices", batched=m.ndim == 3)
    areas = np.empty((len(m), 4), np.int64)
    fw, fh = _checks.dsize(frame_size, "frame_size")
    cw, ch = _checks.dsize(crop_size, "crop_size")
    _core.paste_areas(m, fw, fh, cw, ch, _checks.flag(facefusion, "facefusion"), areas)
    return areas


#: ``blend`` values: one-pass alpha blend, or Laplacian-pyramid (multi-band) blend.
PASTE_BLENDS = ("alpha", "multiband")
_MAX_LEVELS: int = _core.MULTIBAND_MAX_LEVELS  # kMultibandMaxLevels of kernels/include/ffaccel/multiband.h


def _blend(blend: Any, levels: Any, compat: Any) -> int:
    """Pyramid levels for ``blend`` (0 for alpha), validated."""
    if not isinstance(blend, str):  # before any ==: an array would compare elementwise
        raise ValueError(f"blend: expected one of {PASTE_BLENDS}, got {blend!r}")
    if blend == "alpha":
        return 0
    if blend != "multiband":
        raise ValueError(f"blend: expected one of {PASTE_BLENDS}, got {blend!r}")
    if isinstance(levels, bool) or not isinstance(levels, int | np.integer) or not 1 <= levels <= _MAX_LEVELS:
        raise ValueError(f"levels: expected an integer 1..{_MAX_LEVELS}, got {levels!r}")
    if compat is not None:
        raise ValueError(f"compat: expected None with blend='multiband' ({compat!r} reproduces FaceFusion's alpha paste), got {compat!r}")
    return int(levels)


class PasteSpec:
    """What the checks of one paste call worked out, reusable for any call of the same
    argument signature (see :mod:`ffaccel._fast`): a ``_core.PasteCall`` holding the image
    geometry, mode and device, which takes the rest (pointers, matrices, stream) in one
    call and does the overlap tests, the matrix rules and the inversion in C++."""

    __slots__ = ("h", "w", "c", "ch", "cw", "geometry", "n", "batched", "inplace", "levels", "device", "call",
                 "stream", "alloc")

    def __init__(self, f: _checks.ImageArg, cv: _arrays.ArrayView, mv: _arrays.ArrayView, o: _arrays.ArrayView,
                 n: int, batched: bool, mode: int, facefusion: bool, inplace: bool, levels: int,
                 crop_shape: tuple[int, ...]) -> None:
        self.h, self.w, self.c = f.h, f.w, f.c
        self.ch, self.cw = crop_shape[0], crop_shape[1]
        u8 = _core.DType.U8
        crop_dt = u8 if cv.dtype == np.uint8 else _core.DType.F32
        mask_dt = u8 if mv.dtype == np.uint8 else _core.DType.F32
        # (h, w, c, stride, batch stride, dtype) of frame, crops, masks and result: the
        # kernel's image descriptors less their data pointer, which each call brings.
        self.geometry = ((f.h, f.w, f.c, f.view.strides[-3], 0, u8),
                         (self.ch, self.cw, f.c, cv.strides[-3], cv.strides[0] if batched else 0, crop_dt),
                         (self.ch, self.cw, 1, mv.strides[-2], mv.strides[0] if batched else 0, mask_dt),
                         (f.h, f.w, f.c, o.strides[0], 0, u8))
        fi, ci, mi, oi = (_core.Image(0, *g) for g in self.geometry)
        self.n, self.batched, self.inplace, self.levels = n, batched, inplace, levels
        self.device = f.view.device
        self.call = _core.PasteCall(fi, oi, ci, mi, n, batched, mode, facefusion, inplace, self.device,
                                    f.view.nbytes, cv.nbytes, mv.nbytes)
        self.stream = _fast.stream_reader(f.view.kind, f.view.device)
        self.alloc = _fast.allocator(f.view.kind, f.view.device, (f.h, f.w, f.c), f.view.dtype)

    def launch(self, fp: int, cp: int, mp: int, op: int, matrices: np.ndarray) -> None:
        """Run the alpha-blend kernel on pointers and frame -> crop matrices the full checks passed."""
        _fast.launched(self.call(fp, cp, mp, op, matrices, self.stream()))

    def fast_call(self, frame: Any, crops: Any, masks: Any, matrices: Any, out: Any) -> Any:
        """The call on arrays of this spec's signature, or None where the full checks must run
        (a matrix or an overlap they would refuse); nothing is written before that is known."""
        if type(matrices) is not np.ndarray or matrices.dtype != _fast.F64:
            matrices = _fast.host_matrix(matrices)
            if matrices is None:
                return None
        result, op, fp = _fast.result_and_pointers(frame, out, self.inplace, self.alloc)
        if self.call(fp, _fast.ptr(crops), _fast.ptr(masks), op, matrices, self.stream()):
            return None
        return result

    def launch_multiband(self, frame: Any, ptrs: tuple[int, int, int, int], matrices: np.ndarray) -> None:
        """Laplacian-pyramid paste with a per-call workspace of the frame's framework."""
        fi, ci, mi, oi = (_core.Image(p, *g) for p, g in zip(ptrs, self.geometry))
        faces = _core.paste_faces(matrices, self.w, self.h, self.cw, self.ch)  # built once, used for the size and the paste
        floats = _core.multiband_workspace_floats(faces, self.c, self.levels)
        # The pyramids live in a per-call float32 workspace of the frame's own framework
        # (numpy, or the cupy/torch allocator on the current stream), so no memory is
        # allocated behind the caller's allocator: about (4/3 (C + 1) + C / 4) floats per
        # pixel of the largest paste area.
        fv = _arrays.view(frame, "frame")
        workspace = _arrays.empty(fv, (max(floats, 1),), np.dtype(np.float32))
        wv = _arrays.view(workspace, "workspace")
        _core.paste_back_multiband(fi, oi, ci, mi, faces, self.inplace, self.levels, wv.ptr, floats, self.device,
                                   self.stream())


def check(frame: Any, crops: Any, masks: Any, matrices: Any, compat: Any, inplace: bool, out: Any, batched: bool,
          blend: Any = "alpha", levels: Any = 5) -> tuple[PasteSpec, np.ndarray, Any, tuple[int, int, int, int]]:
    """Every check of a paste call: (spec, (N, 6) matrices, result object, pointers of frame, crops, masks, result)."""
    inplace = _checks.flag(inplace, "inplace")
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
            raise ValueError("crops: expected at least one crop, got none")
        crop_shape, mask_shape = cv.shape[1:], mv.shape[1:]
    else:
        crop_shape, mask_shape = cv.shape, mv.shape
    if len(crop_shape) != 3:
        raise ValueError(f"{crops_name}: expected shape (h, w, C), got {cv.shape}")
    if cv.dtype not in _CROP:
        raise TypeError(f"{crops_name}: expected dtype uint8 or float32, got {cv.dtype}")
    if crop_shape[2] != f.c:
        raise ValueError(f"{crops_name}: expected {f.c} channels like frame, got {crop_shape[2]}")
    if mv.dtype not in _MASK:
        raise TypeError(f"{masks_name}: expected dtype float32 (0..1) or uint8 (0..255), got {mv.dtype}")
    if tuple(mask_shape) != tuple(crop_shape[:2]):
        raise ValueError(f"{masks_name}: expected shape {tuple(crop_shape[:2])} to match the crop, got {tuple(mask_shape)}")
    if crop_shape[0] == 0 or crop_shape[1] == 0:
        raise ValueError(f"{crops_name}: expected a non-empty crop, got shape {tuple(cv.shape)}")
    for name, v in ((crops_name, cv), (masks_name, mv)):
        _checks.contiguous(v, name)
    m = _checks.matrices(matrices, "matrices" if batched else "matrix", batched)
    if m.shape[0] != n:
        raise ValueError(f"matrices: expected {n} matrices to match crops, got {m.shape[0]}")
    mode, facefusion = _compat(compat)
    if facefusion and mv.dtype != np.float32:
        raise TypeError(f"{masks_name}: expected a float32 mask (0..1) with compat={compat!r}, as FaceFusion uses, got {mv.dtype}")
    if inplace and out is not None:
        raise ValueError("out: expected None with inplace=True, got an array")
    for name, v in ((crops_name, cv), (masks_name, mv)):
        _checks.disjoint((name, v), ("frame", f.view))
    if inplace:
        _checks.writable(f.view, "frame")
        out_obj, o = frame, f.view
    else:
        out_obj, o = _checks.output(out, f.view, (f.h, f.w, f.c), f.view.dtype,
                                    inputs=[("frame", f.view), (crops_name, cv), (masks_name, mv)])
    # The matrix rules, last as ever (the kernel inverts the matrices itself, in C++).
    _checks.matrix_rules(m, "matrices" if batched else "matrix")
    spec = PasteSpec(f, cv, mv, o, n, batched, mode, facefusion, inplace, pyramid_levels, crop_shape)
    return spec, m if batched else m[0], out_obj, (f.view.ptr, cv.ptr, mv.ptr, o.ptr)


def _key(frame: Any, crops: Any, masks: Any, compat: Any, inplace: Any, out: Any, batched: bool, blend: Any) -> tuple | None:
    """The cache key of an alpha-blend paste call, or None where it must take the full checks."""
    if not (type(blend) is str and blend == "alpha" and type(inplace) is bool and (compat is None or type(compat) is str)):
        return None
    sigs = (_fast.out_signature(frame) if inplace else _fast.signature(frame), _fast.signature(crops),
            _fast.signature(masks))
    if None in sigs:
        return None
    os_ = None if out is None else _fast.out_signature(out)
    if out is not None and os_ is None:
        return None
    return ("paste", batched, *sigs, os_, compat, inplace)


def _run(frame: Any, crops: Any, masks: Any, matrices: Any, compat: Any, inplace: bool, out: Any, batched: bool,
         blend: Any = "alpha", levels: Any = 5) -> Any:
    key = _key(frame, crops, masks, compat, inplace, out, batched, blend)
    spec = _fast.lookup(key)
    if spec is not None:  # same signature as a call that passed every check: re-check only what can change
        result = spec.fast_call(frame, crops, masks, matrices, out)
        if result is not None:
            return result
    spec, mats, out_obj, ptrs = check(frame, crops, masks, matrices, compat, inplace, out, batched, blend, levels)
    if spec.levels:
        spec.launch_multiband(frame, ptrs, mats)
        return out_obj
    _fast.remember(key, spec)
    spec.launch(*ptrs, mats)
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
