"""``paste_back_insightface``: insightface's INSwapper paste-back, byte for byte, over the face only.

Kernel: ``kernels/include/ffaccel/paste_insightface.h`` (the formulas and the proof of
which pixels can change), ``kernels/cpu/paste_insightface.cpp``,
``kernels/cuda/paste_insightface.cu``, ``kernels/bindings/paste_insightface.cpp``.
Tests: ``tests/ops/test_paste_insightface.py``. Docs: docs/insightface.md.
"""

from __future__ import annotations

import functools
import sys
import threading
from typing import Any

import numpy as np

from ffaccel import _arrays, _checks, _core, _fast

__all__ = ["INSIGHTFACE_COMPAT", "insightface_generation", "paste_back_insightface"]

#: ``compat`` values. ``"insightface"`` follows the installed cv2.
INSIGHTFACE_COMPAT = ("insightface", "insightface-opencv4", "insightface-opencv4.13", "insightface-opencv5")

# compat -> (warp mode of warp_affine.h, blur mode of paste_insightface.h). A new OpenCV
# generation adds one row here (and its warp mode in the kernels). The two change in
# different releases: 4.13 kept 4.x's fixed-point warpAffine but already blurs float32
# images with 5.0's arithmetic (unfused tail columns), docs/insightface.md.
_MODES = {
    "insightface-opencv4": (2, 0),  # 4.8-4.12: WarpMode::OpenCV4, BlurMode::OpenCV4
    "insightface-opencv4.13": (2, 1),  # 4.13: WarpMode::OpenCV4, BlurMode::OpenCV5
    "insightface-opencv5": (1, 1),  # 5.0, 5.1 without IPP: WarpMode::OpenCV5, BlurMode::OpenCV5
}

_FRAME = {np.dtype(np.uint8): (3,)}
_local = threading.local()

# Recycled numpy output frames (see _new_frame): large enough that a fresh allocation
# is likely a new mapping whose first touch page-faults (about 15 ms of a 4K frame's
# 25 MB on the 2-core machine, 0.3-0.5 ms of a 1080p frame's 6 MB), at most
# _POOL_PER_SHAPE per shape.
_POOL_MIN_BYTES = 1 << 20
_POOL_PER_SHAPE = 3
_pool: dict[tuple[int, ...], list[np.ndarray]] = {}
_pool_lock = threading.Lock()


def _new_frame(shape: tuple[int, ...]) -> np.ndarray:
    """A new-to-the-caller (H, W, 3) uint8 array; every byte is written by the op.

    Large frames come from a small pool: an array is handed out again only when no one
    else holds a reference to it (no view, no memoryview, no variable: its reference
    count is the pool's own), so a caller never sees its result change.
    """
    if int(np.prod(shape)) < _POOL_MIN_BYTES:
        return np.empty(shape, np.uint8)
    with _pool_lock:
        arrays = _pool.setdefault(tuple(shape), [])
        for a in arrays:
            if sys.getrefcount(a) == 3:  # the list, the loop variable, getrefcount's argument
                return a
        a = np.empty(shape, np.uint8)
        if len(arrays) < _POOL_PER_SHAPE:
            arrays.append(a)
        return a


def insightface_generation(version: str | None = None, ipp: bool | None = None) -> str:
    """The ``compat`` value matching an OpenCV release (default: the imported cv2).

    The paste has two OpenCV steps whose arithmetic changed between releases, and they
    changed in different releases: ``warpAffine`` (fixed point in 4.8-4.13, float from
    5.0) and ``GaussianBlur`` on float32 (every multiply-add fused in 4.8-4.12; the tail
    columns unfused from 4.13). The erode and blur are the same arithmetic with or
    without Intel IPP; the warp is not: OpenCV 5.1 hands ``warpAffine`` to IPP when IPP
    is on, and with IPP off gives exactly 5.0's bytes.

    Args:
        version: ``cv2.__version__``-style string such as ``"4.12.0"``; None reads cv2.
        ipp: whether cv2 uses IPP (``cv2.ipp.useIPP()``); None reads it from cv2 when
            ``version`` is None, else assumes False.

    Returns:
        ``"insightface-opencv4"`` for 4.8-4.12, ``"insightface-opencv4.13"`` for 4.13,
        ``"insightface-opencv5"`` for 5.0, and for 5.1 with IPP off (environment
        ``OPENCV_IPP=disabled`` before cv2 is imported).

    Raises:
        ffaccel.opencv_compat.OpenCVVersionError (a ValueError): cv2 is not importable, or a
            release whose bytes are not reproduced (5.1 with IPP on, 4.14, or anything newer
            than 5.1), naming it.

    Example:
        >>> insightface_generation("4.12.0")
        'insightface-opencv4'
        >>> insightface_generation("4.13.0")
        'insightface-opencv4.13'
        >>> insightface_generation("5.1.0", ipp=False)
        'insightface-opencv5'
    """
    # The warp follows the one release -> mode mapping of every op (ffaccel.opencv_compat,
    # which also refuses the releases no mode reproduces); the blur adds one rule: 4.13.
    from ffaccel import opencv_compat

    if version is None:
        mode = opencv_compat.opencv_compat_mode()  # imports cv2, or raises naming the problem
        import cv2

        version = str(cv2.__version__)
    else:
        mode = opencv_compat.compat_mode_for(str(version), ipp=bool(ipp))
    if mode != "opencv4":
        return "insightface-opencv5"
    return "insightface-opencv4.13" if _blur_of_5x(version) else "insightface-opencv4"


@functools.lru_cache(maxsize=16)
def _blur_of_5x(version: str) -> bool:
    """Whether a 4.x release blurs float32 images with 5.0's arithmetic (4.13 on; cached:
    compat="insightface" asks on every call)."""
    from ffaccel import opencv_compat

    return opencv_compat.parse_version(version)[:2] >= (4, 13)


def _modes(compat: Any) -> tuple[int, int]:
    if not isinstance(compat, str):  # before any ==: an array would compare elementwise
        raise ValueError(f"compat: expected one of {INSIGHTFACE_COMPAT}, got {compat!r}")
    if compat == "insightface":
        from ffaccel.opencv_compat import OpenCVVersionError

        try:
            compat = insightface_generation()
        except OpenCVVersionError as exc:  # the message names the argument, as every check's does
            raise OpenCVVersionError(f"compat: {exc}") from None
    try:
        return _MODES[compat]
    except (KeyError, TypeError):
        raise ValueError(f"compat: expected one of {INSIGHTFACE_COMPAT}, got {compat!r}") from None


def _numpy_workspace(floats: int) -> np.ndarray:
    """The calling thread's reused float32 workspace of at least ``floats`` elements (no
    page faults per call)."""
    buf = getattr(_local, "buf", None)
    if buf is None or buf.size < floats:
        buf = np.empty(max(floats, 1 << 16), np.float32)
        _local.buf = buf
    return buf


def _workspace_maker(kind: str, device: int) -> Any:
    """``floats -> float32 workspace``: the per-thread numpy buffer on the CPU, a new array
    from the frame's own allocator (on its current stream) on the GPU."""
    if kind == "numpy":
        return _numpy_workspace
    alloc = _fast.sized_allocator(kind, device, np.dtype(np.float32))
    return lambda floats: alloc((floats,))


class InsightfaceSpec:
    """What the checks of one call worked out, reusable for any call whose arrays have the
    same signature (:mod:`ffaccel._fast`): a ``_core.InsightfaceCall`` holding the image
    geometry, which takes the pointers, matrix, modes, workspace and stream in one call
    and tests the overlap and the matrix rules in C++."""

    __slots__ = ("call", "inplace", "stream", "new_frame", "workspace")

    def __init__(self, f: _checks.ImageArg, cv: _arrays.ArrayView, o: _arrays.ArrayView, inplace: bool) -> None:
        u8 = _core.DType.U8
        self.call = _core.InsightfaceCall(_core.Image(0, f.h, f.w, 3, f.view.strides[0], 0, u8),
                                          _core.Image(0, f.h, f.w, 3, o.strides[0], 0, u8),
                                          _core.Image(0, cv.shape[0], cv.shape[1], 3, cv.strides[0], 0, u8),
                                          f.view.nbytes, cv.nbytes, f.view.device, inplace)
        self.inplace = inplace
        self.stream = _fast.stream_reader(f.view.kind, f.view.device)
        kind, shape = f.view.kind, (f.h, f.w, 3)
        self.new_frame = (functools.partial(_new_frame, shape) if kind == "numpy"
                          else _fast.allocator(kind, f.view.device, shape, np.dtype(np.uint8)))
        self.workspace = _workspace_maker(kind, f.view.device)

    def fast_call(self, frame: Any, crop: Any, matrix: Any, out: Any, warp: int, blur: int) -> Any:
        """The call on arrays of this spec's signature, or None where the full checks must run
        (a matrix or an overlap they would refuse); nothing is written before that is known."""
        if type(matrix) is not np.ndarray or matrix.dtype != _fast.F64 or not matrix.flags.c_contiguous:
            matrix = _fast.host_matrix(matrix)
            if matrix is None:
                return None
            matrix = np.ascontiguousarray(matrix)
        floats = self.call.workspace_floats(matrix)
        if floats < 0:
            return None
        ws = self.workspace(floats)
        result, op, fp = _fast.result_and_pointers(frame, out, self.inplace, self.new_frame)
        if self.call(fp, _fast.ptr(crop), op, matrix, warp, blur, _fast.ptr(ws), floats, self.stream()):
            return None
        return result


def _key(frame: Any, crop: Any, inplace: Any, out: Any) -> tuple | None:
    """The cache key of a call (the arrays' signatures and ``inplace``), or None where it
    must take the full checks."""
    if type(inplace) is not bool:
        return None
    sigs = (_fast.out_signature(frame) if inplace else _fast.signature(frame), _fast.signature(crop))
    if None in sigs:
        return None
    out_sig = None if out is None else _fast.out_signature(out)
    if out is not None and out_sig is None:
        return None
    return ("insightface", *sigs, out_sig, inplace)


def paste_back_insightface(frame: Any, crop: Any, matrix: Any, *, compat: str = "insightface",
                           inplace: bool = False, out: Any = None) -> Any:
    """Paste a swapped crop as insightface's ``INSwapper.get(..., paste_back=True)`` does.

    Byte-identical to stock insightface 2.1 for the same ``bgr_fake`` crop and matrix,
    under the OpenCV generation named by ``compat``, but only the face's neighbourhood
    is computed (docs/insightface.md gives the steps and the proof that no other pixel
    can change). The dead ``fake_diff`` work of stock is skipped.

    Args:
        frame: (H, W, 3) uint8 frame (BGR). numpy runs on the CPU (a non-contiguous
            numpy frame is copied first, as cv2 does); cupy/torch CUDA arrays on their
            device and current stream (C-contiguous), without synchronising (the mask's
            extent comes from the matrix on the host), so the call can be captured in a
            CUDA graph.
        crop: (h, w, 3) uint8 ``bgr_fake`` (the model's output, BGR), same kind/device
            as frame; a non-contiguous numpy crop (stock's ``[:, :, ::-1]`` view) is fine.
        matrix: (2, 3) host array M, frame -> crop, as ``face_align.norm_crop2`` returns
            it (float64; other dtypes are converted to float64).
        compat: ``"insightface"`` (the imported cv2, see :func:`insightface_generation`),
            or a generation by name: ``"insightface-opencv4"`` (OpenCV 4.8-4.12),
            ``"insightface-opencv4.13"`` (4.13) or ``"insightface-opencv5"`` (5.0; 5.1
            with IPP off).
        inplace: write into ``frame`` itself (numpy: must be C-contiguous and writable).
        out: optional (H, W, 3) uint8 C-contiguous result buffer; not with ``inplace``.
            ``out`` and ``crop`` must share no memory with the arrays as given (``crop``
            none with ``frame`` either), on every device: a non-contiguous numpy input
            is copied before it is read, but sharing memory with it is refused all the same.

    Returns:
        The pasted frame: a new array, ``out``, or ``frame``. Where stock insightface
        raises (no mask pixel above 20 in the frame, e.g. a face wholly off the frame)
        the frame comes back unchanged.

    Raises:
        TypeError, ValueError: bad arguments, named in the message; nothing is written.

    Example:
        >>> import numpy as np, ffaccel
        >>> frame = np.full((480, 640, 3), 40, np.uint8)
        >>> crop = np.full((128, 128, 3), 200, np.uint8)
        >>> M = np.array([[0.5, 0.0, -100.0], [0.0, 0.5, -60.0]])  # 256 px face at (200, 120)
        >>> res = ffaccel.paste_back_insightface(frame, crop, M, compat="insightface-opencv5")
        >>> int(res[248, 328, 0]), int(res[10, 10, 0])  # stock's blurred mask peaks just below 1: 199
        (199, 40)
    """
    warp, blur = _modes(compat)
    key = _key(frame, crop, inplace, out)
    spec = _fast.lookup(key)
    if spec is not None:  # same signature as a call that passed every check: re-check only what can change
        result = spec.fast_call(frame, crop, matrix, out, warp, blur)
        if result is not None:
            return result
    spec, result, launch = check(frame, crop, matrix, inplace, out)
    if spec is not None:
        _fast.remember(key, spec)
    launch(warp, blur)
    return result


def check(frame: Any, crop: Any, matrix: Any, inplace: Any, out: Any) -> tuple[InsightfaceSpec | None, Any, Any]:
    """Every check of a call, nothing written: (a spec for later calls of this signature, or
    None where an input is copied first; the result object; ``launch(warp, blur)``, which
    runs the paste)."""
    inplace = _checks.flag(inplace, "inplace")
    fv = _arrays.view(frame, "frame")
    given_frame = fv  # the caller's arrays: out must be apart from these, not from our copies
    copy_first = fv.kind == "numpy" and not fv.c_contiguous and not inplace
    if copy_first:
        if fv.dtype != np.uint8 or len(fv.shape) != 3 or fv.shape[2] != 3:
            _checks.image(frame, "frame", _FRAME)  # the named error
        frame = np.ascontiguousarray(frame)
    f = _checks.image(frame, "frame", _FRAME)
    if f.planar:
        raise ValueError(f"frame: expected shape (H, W, 3), got {f.view.shape}")
    cv = _arrays.view(crop, "crop")
    _checks.same_device([("frame", f.view), ("crop", cv)])
    if cv.dtype != np.uint8:
        raise TypeError(f"crop: expected dtype uint8 (insightface's bgr_fake), got {cv.dtype}")
    if len(cv.shape) != 3 or cv.shape[2] != 3:
        raise ValueError(f"crop: expected shape (h, w, 3), got {cv.shape}")
    if cv.shape[0] == 0 or cv.shape[1] == 0:
        raise ValueError(f"crop: expected a non-empty crop, got shape {cv.shape}")
    given_crop = cv
    if not cv.c_contiguous:
        if cv.kind != "numpy":
            _checks.contiguous(cv, "crop")
        crop = np.ascontiguousarray(crop)
        cv = _arrays.view(crop, "crop")
    m = _checks.matrices(matrix, "matrix", batched=False)
    _checks.affine_inverse(m, "matrix")  # finite and invertible, or a named error
    if inplace and out is not None:
        raise ValueError("out: expected None with inplace=True, got an array")
    _checks.disjoint(("crop", given_crop), ("frame", given_frame))
    if inplace:
        _checks.writable(f.view, "frame")
        out_obj, o, in_place = frame, f.view, True
    elif copy_first and out is None:
        out_obj, o, in_place = frame, f.view, True  # our own contiguous copy
    else:
        if out is None and f.view.kind == "numpy":
            out = _new_frame((f.h, f.w, 3))
        out_obj, o = _checks.output(out, f.view, (f.h, f.w, 3), np.dtype(np.uint8),
                                    inputs=[("frame", given_frame), ("crop", given_crop)])
        in_place = False
    mat = np.ascontiguousarray(m.reshape(6))
    ch, cw = cv.shape[0], cv.shape[1]

    def launch(warp: int, blur: int) -> None:
        # f, cv and o hold their arrays (our contiguous copies too): the closure keeps them
        # alive until the paste returns, so the pointers below stay valid.
        floats = max(_core.insightface_workspace_floats(mat, f.w, f.h, cw, ch), 1)
        ws = _workspace_maker(f.view.kind, f.view.device)(floats)
        crop_img = _core.Image(cv.ptr, ch, cw, 3, cv.strides[0], 0, _core.DType.U8)
        out_img = _core.Image(o.ptr, f.h, f.w, 3, o.strides[0], 0, _core.DType.U8)
        _core.paste_insightface(f.core_image(), out_img, crop_img, mat, warp, blur, in_place, _fast.ptr(ws), floats,
                                f.view.device, _arrays.current_stream(f.view))

    # Later calls of this signature may skip the checks, unless an input is copied first
    # (their signature then says nothing of the arrays the kernel reads).
    spec = InsightfaceSpec(f, cv, o, in_place) if not copy_first and given_crop is cv else None
    return spec, out_obj, launch
