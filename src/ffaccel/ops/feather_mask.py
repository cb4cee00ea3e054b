"""``feather_mask`` and ``box_mask``: soft-edged face masks.

Kernel: ``kernels/include/ffaccel/feather_mask.h`` (the per-pixel formula),
``kernels/cpu/feather_mask.cpp``, ``kernels/cuda/feather_mask.cu``,
``kernels/bindings/feather_mask.cpp``. Tests: ``tests/ops/test_feather_mask.py``.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from ffaccel import _arrays, _checks, _core, _fast

__all__ = ["box_mask", "feather_mask", "gaussian_taps"]

_ALLOWED = {np.dtype(np.uint8): (1,), np.dtype(np.float32): (1,)}
#: Largest sigma feather_mask takes: its kernel must fit the GPU kernel's argument block.
MAX_SIGMA = (_core.FEATHER_MAX_TAPS - 1.5) / 8.0


@functools.lru_cache(maxsize=64)
def gaussian_taps(sigma: float) -> np.ndarray:
    """The float32 taps cv2.GaussianBlur(float image, (0, 0), sigma) uses, read-only.

    Size ``round(8 * sigma + 1) | 1`` (OpenCV's rule for non-uint8 images, ``round``
    half to even as cvRound); weights ``exp(-x^2 / (2 sigma^2))`` computed in double,
    normalised to sum 1 in double, then rounded to float32, as getGaussianKernel does.
    """
    n = round(sigma * 8.0 + 1.0) | 1  # round() of a float is an int, half to even
    half = (n - 1) // 2
    if half == 0:  # sigma < 1/16: one tap of weight 1 (and sigma**2 may underflow to 0)
        taps = np.ones(1, np.float32)
        taps.flags.writeable = False
        return taps
    # OpenCV evaluates exp(x2 * (-0.125 / sigma^2)) with x2 = (2i - (n - 1))^2, an
    # integer; doing the same keeps the double weights within an ulp of OpenCV's.
    scale = -0.125 / (sigma * sigma)
    side = [math.exp(float((1 - n + 2 * i) ** 2) * scale) for i in range(half)]
    total = 2.0 * math.fsum(side) + 1.0
    inv = 1.0 / total
    weights = [t * inv for t in side]
    taps = np.array(weights + [inv] + weights[::-1], dtype=np.float32)
    taps.flags.writeable = False
    return taps


def _sigma(value: Any) -> float:
    # The upper bound is the GPU kernel's limit (its taps live in the argument block).
    return _checks.real(value, "sigma", lo=0.0, lo_open=True, hi=MAX_SIGMA)


def feather_mask(mask: Any, sigma: float, *, out: Any = None) -> Any:
    """Gaussian-blur a mask: ``cv2.GaussianBlur(mask, (0, 0), sigma)``, on CPU or GPU.

    A separable Gaussian with OpenCV's kernel for float images (size
    ``round(8 sigma + 1) | 1``, float32 taps from double weights) and
    ``BORDER_REFLECT_101``. Each output pixel is the vertical sum over the taps in
    order, then the horizontal sum over the taps in order, in float32. On float32
    masks it matches OpenCV within 1e-5 (OpenCV sums in another order).

    Args:
        mask: (H, W) or (H, W, 1) one-channel mask, C-contiguous. float32 (normally
            0..1; any finite values work) or uint8 (0..255). A numpy array runs on the
            CPU; a cupy array or torch CUDA tensor on its device, on the framework's
            current stream, without synchronising. On the GPU the width is at most
            12288 pixels.
        sigma: standard deviation in pixels, 0 < sigma <= ~120 (``MAX_SIGMA``).
        out: optional result buffer, same shape, dtype, kind and device as ``mask``,
            not overlapping it.

    Returns:
        The blurred mask, same shape and dtype as ``mask``. uint8 masks are blurred as
        float values 0..255 with the same float kernel and rounded half to even: this
        is not OpenCV's 8-bit path (which uses a 3-sigma fixed-point kernel). CPU and
        GPU results are the same bytes.

    Raises:
        TypeError, ValueError: bad arguments, named in the message; nothing is written.
        ffaccel.CudaError: the CUDA runtime failed.

    Example:
        >>> import numpy as np, ffaccel
        >>> m = np.zeros((64, 64), np.float32); m[16:48, 16:48] = 1
        >>> soft = ffaccel.feather_mask(m, 4.0)
        >>> soft.shape, soft.dtype, bool(0 < soft[16, 32] < 1)
        ((64, 64), dtype('float32'), True)
    """
    key = _key(mask, sigma, out)
    spec = _fast.lookup(key)
    if spec is not None:  # same signature as a call that passed every check: only pointers and overlap
        result = spec.fast_call(mask, out)
        if result is not None:
            return result
    spec, out_obj, mp, op = check(mask, sigma, out)
    _fast.remember(key, spec)
    spec.launch(mp, op)
    return out_obj


class FeatherSpec:
    """What the checks of one feather_mask call worked out (see :mod:`ffaccel._fast`)."""

    __slots__ = ("h", "w", "dt", "src_stride", "out_stride", "nbytes", "taps", "vpass", "hpass", "device", "stream",
                 "alloc", "_imgs")

    def __init__(self, m: _checks.ImageArg, o: _arrays.ArrayView, taps: np.ndarray) -> None:
        self.h, self.w = m.h, m.w
        self.dt = _core.DType.U8 if o.dtype == np.uint8 else _core.DType.F32
        self.src_stride = m.view.strides[-2] if m.planar else m.view.strides[-3]
        self.out_stride = o.strides[0]
        self.nbytes = m.view.nbytes
        self.taps = taps
        # cv2.GaussianBlur drops the vertical pass of a one-row image and the horizontal pass
        # of a one-column image (they would only scale by the sum of the float taps).
        self.vpass = m.h > 1 and taps.size > 1
        self.hpass = m.w > 1 and taps.size > 1
        self.device = m.view.device
        self.stream = _fast.stream_reader(m.view.kind, m.view.device)
        self.alloc = _fast.allocator(m.view.kind, m.view.device, m.view.shape, m.view.dtype)
        self._imgs: tuple[Any, ...] = (None,)

    def launch(self, mp: int, op: int) -> None:
        last = self._imgs  # one attribute read and one write: safe across threads
        if last[0] != (mp, op):
            last = self._imgs = ((mp, op), (_core.Image(mp, self.h, self.w, 1, self.src_stride, 0, self.dt),
                                            _core.Image(op, self.h, self.w, 1, self.out_stride, 0, self.dt)))
        src, dst = last[1]
        _core.feather_mask(src, dst, self.taps, self.vpass, self.hpass, self.device, self.stream())

    def fast_call(self, mask: Any, out: Any) -> Any:
        """The call on arrays of this spec's signature, or None where the full checks must run."""
        mp = _fast.ptr(mask)
        if out is None:
            out = self.alloc()
            self.launch(mp, _fast.ptr(out))
            return out
        op = _fast.ptr(out)
        if not _fast.apart(mp, self.nbytes, op, self.nbytes):
            return None
        self.launch(mp, op)
        return out


def _key(mask: Any, sigma: Any, out: Any) -> tuple | None:
    if type(sigma) not in (int, float):
        return None
    ms = _fast.signature(mask)
    os_ = None if out is None else _fast.out_signature(out)
    if ms is None or (out is not None and os_ is None):
        return None
    return ("feather", ms, os_, sigma)


def check(mask: Any, sigma: Any, out: Any) -> tuple[FeatherSpec, Any, int, int]:
    """Every check of a feather_mask call: (spec, result object, mask pointer, result pointer)."""
    m = _checks.image(mask, "mask", _ALLOWED)
    s = _sigma(sigma)
    if m.view.on_gpu and m.w > _core.FEATHER_MAX_WIDTH:
        raise ValueError(f"mask: expected at most {_core.FEATHER_MAX_WIDTH} pixels wide on the GPU, got {m.w}")
    taps = gaussian_taps(s)
    out_obj, o = _checks.output(out, m.view, m.view.shape, m.view.dtype, inputs=[("mask", m.view)])
    return FeatherSpec(m, o, taps), out_obj, m.view.ptr, o.ptr


def _padding(value: Any) -> tuple[float, float, float, float]:
    if isinstance(value, int | float | np.integer | np.floating) and not isinstance(value, bool | np.bool_):
        value = (value,) * 4
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = (value[()],) * 4
    if not isinstance(value, Sequence | np.ndarray) or isinstance(value, str) or np.ndim(value) != 1 \
            or len(value) != 4:
        raise TypeError(f"padding: expected (top, right, bottom, left) in percent, got {value!r}")
    vals = [_checks.real(v, "padding", lo=0.0, hi=100.0) for v in value]
    return (vals[0], vals[1], vals[2], vals[3])


def box_mask(
    size: int | tuple[int, int], blur: float, padding: float | tuple[float, float, float, float]
) -> np.ndarray:
    """FaceFusion's box mask: a rectangle of ones with zeroed, Gaussian-feathered edges.

    The steps of FaceFusion's ``create_box_mask``, for a crop of width W and height H:
    ``blur_amount = int(W * 0.5 * blur)``, ``blur_area = max(blur_amount // 2, 1)``;
    ones of shape (H, W); the top and bottom bands of ``max(blur_area,
    int(H * padding / 100))`` rows and the left and right bands of ``max(blur_area,
    int(W * padding / 100))`` columns zeroed; then, when ``blur_amount > 0``, a Gaussian
    blur with sigma ``blur_amount * 0.25``. The blur is a CPU sibling of
    :func:`feather_mask`'s loop that sums in OpenCV's float order (OpenCV is not
    needed), so the result is within 1e-6 of FaceFusion's (in practice the same floats). (For a non-square crop FaceFusion's
    own array comes out (W, H)-shaped; all its crop sizes are square. This returns the
    (H, W) mask the band rules describe.)

    Args:
        size: crop width and height, ``(W, H)`` as OpenCV sizes, or one int for a square.
        blur: FaceFusion's face_mask_blur, 0..1.
        padding: (top, right, bottom, left) in percent of the crop, or one number for
            all four; each 0..100.

    Returns:
        (H, W) float32 numpy array in 0..1, cached per argument set and read-only
        (``writeable=False``): copy it before changing it.

    Example:
        >>> import ffaccel
        >>> m = ffaccel.box_mask(512, 0.3, (0, 0, 0, 0))
        >>> m.shape, m.dtype, m.flags.writeable
        ((512, 512), dtype('float32'), False)
        >>> bool(m[256, 256] > 0.999 and m[0, 0] < 0.01)
        True
    """
    if isinstance(size, np.ndarray) and size.ndim == 0:
        size = size[()]
    if isinstance(size, int | np.integer) and not isinstance(size, bool | np.bool_):
        size = (size, size)
    w, h = _checks.dsize(size, "size")
    b = _checks.real(blur, "blur", lo=0.0, hi=1.0)  # FaceFusion's face_mask_blur range
    return _box_mask_cached(w, h, b, _padding(padding))


@functools.lru_cache(maxsize=128)
def _box_mask_cached(w: int, h: int, blur: float, padding: tuple[float, float, float, float]) -> np.ndarray:
    blur_amount = int(w * 0.5 * blur)
    blur_area = max(blur_amount // 2, 1)
    top, right, bottom, left = padding
    mask = np.ones((h, w), np.float32)
    mask[: max(blur_area, int(h * top / 100)), :] = 0
    mask[h - min(h, max(blur_area, int(h * bottom / 100))):, :] = 0
    mask[:, : max(blur_area, int(w * left / 100))] = 0
    mask[:, w - min(w, max(blur_area, int(w * right / 100))):] = 0
    if blur_amount > 0:
        mask = _blur_like_opencv(mask, gaussian_taps(blur_amount * 0.25))
    mask.flags.writeable = False
    return mask



def _blur_like_opencv(mask: np.ndarray, taps: np.ndarray) -> np.ndarray:
    """cv2.GaussianBlur of a float32 host mask, in OpenCV's summation order.

    feather_mask's order (vertical, then horizontal, sequential sums) is within 1e-6 of
    OpenCV for small kernels but drifts past it for FaceFusion's widest masks (sigma 64
    on a 512 crop), so box_mask uses the CPU kernel that sums as OpenCV's float path
    does: horizontally taps left to right with FMA, then vertically over symmetric pairs
    (kernels/include/ffaccel/feather_mask.h, gaussian_blur_opencv_order).
    """
    h, w = mask.shape
    out = np.empty_like(mask)
    src = _core.Image(_core.host_ptr(mask), h, w, 1, mask.strides[0], 0, _core.DType.F32)
    dst = _core.Image(_core.host_ptr(out), h, w, 1, out.strides[0], 0, _core.DType.F32)
    # As cv2.GaussianBlur: no vertical pass on one row, no horizontal pass on one column.
    _core.gaussian_blur_opencv_order(src, dst, taps, h > 1 and taps.size > 1, w > 1 and taps.size > 1)
    return out
