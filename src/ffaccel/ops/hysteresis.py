"""``mask_hysteresis``, ``seam_ring`` and ``MaskHysteresis``: hold a soft mask still over time.

Kernel: ``kernels/include/ffaccel/hysteresis.h`` (the per-pixel rule),
``kernels/cpu/hysteresis.cpp``, ``kernels/cuda/hysteresis.cu``,
``kernels/bindings/hysteresis.cpp``. ``seam_ring`` runs in C++ on the CPU and as
cupy/torch element-wise ops on the GPU. Tests: ``tests/ops/test_hysteresis.py``,
``tests/ops/test_hysteresis_cuda.py``.

All thresholds are in the mask's own units: 0..1 for float32 masks, 0..255 for uint8
masks. They are rounded to float32, and the kernels compare in float32.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ffaccel import _arrays, _checks, _core

__all__ = ["MaskHysteresis", "mask_hysteresis", "seam_ring"]

_MASK_DTYPES = {np.dtype(np.uint8): (1,), np.dtype(np.float32): (1,)}
_NO_ROI = (0, 0, 0, 0)


def _mask(x: Any, name: str) -> _checks.ImageArg:
    m = _checks.image(x, name, _MASK_DTYPES)
    if not m.planar:
        raise ValueError(f"{name}: expected shape (H, W), got {m.view.shape}")
    return m


def _f32(value: Any, name: str, minimum: float | None = None) -> float:
    return float(np.float32(_checks.real(value, name, lo=minimum, float32=True)))


def _ring_bounds(lo: Any, hi: Any, lo_name: str = "lo", hi_name: str = "hi") -> tuple[float, float]:
    lo32, hi32 = _f32(lo, lo_name), _f32(hi, hi_name)
    if not lo32 < hi32:
        raise ValueError(f"{hi_name}: expected a value above {lo_name} ({lo!r}) in float32, got {hi!r}")
    return lo32, hi32


def _roi(roi: Any, h: int, w: int) -> tuple[int, int, int, int]:
    if roi is None:
        return (0, 0, w, h)
    if not isinstance(roi, tuple | list | np.ndarray) or np.ndim(roi) != 1 or len(roi) != 4:
        raise TypeError(f"roi: expected None or (x, y, w, h), got {roi!r}")
    try:
        x, y, rw, rh = (_checks.operator_index(v) for v in roi)
    except (TypeError, AttributeError):
        raise TypeError(f"roi: expected integers x, y, w, h, got {roi!r}") from None
    if x < 0 or y < 0 or rw < 0 or rh < 0 or x + rw > w or y + rh > h:
        raise ValueError(f"roi: expected a box inside the {w}x{h} mask (x, y, w, h >= 0), got {roi!r}")
    return (x, y, rw, rh)


def _core_mask(v: _arrays.ArrayView, h: int, w: int) -> Any:
    dtype = _core.DType.U8 if v.dtype == np.uint8 else _core.DType.F32
    return _core.Image(v.ptr, h, w, 1, v.strides[0], 0, dtype)


def _run(m: _checks.ImageArg, p: _checks.ImageArg, out: Any, t_in: float, t_out: float,
         ring: tuple[float, float] | None, roi: tuple[int, int, int, int]) -> Any:
    out_obj, o = _checks.output(out, m.view, m.view.shape, m.view.dtype, inputs=[("mask", m.view), ("prev", p.view)],
                                alias=("mask", "prev"))
    # When out is mask itself, pixels outside the box already hold their result (mask):
    # the kernels then visit the box alone.
    copy_outside = not _arrays.same_array(o, m.view)
    lo, hi = ring if ring is not None else (0.0, 0.0)
    _core.mask_hysteresis(m.core_image(), p.core_image(), _core_mask(o, m.h, m.w), t_in, t_out, ring is not None,
                          lo, hi, roi, copy_outside, m.view.device, _arrays.current_stream(m.view))
    return out_obj


def mask_hysteresis(
    mask: Any,
    prev: Any,
    *,
    t_in: float,
    t_out: float,
    roi: tuple[int, int, int, int] | None = None,
    out: Any = None,
) -> Any:
    """Keep the previous mask value unless the new one moved by more than a threshold.

    Per pixel, in float32::

        d = mask - prev
        out = mask  if d > t_in or -d > t_out    # moved in / out by more than the threshold
              prev  otherwise                    # held: a small wobble is ignored

    With ``roi=(x, y, w, h)`` the rule applies inside that box only, and outside it
    ``out = mask`` (no hysteresis there). Passing ``out=mask`` then reads and writes the
    box alone, so the cost follows the box's area, not the image's: that is the use
    for a seam ring's bounding box (see :func:`seam_ring`). A NaN in ``mask`` fails both
    compares, so the pixel keeps ``prev``.

    Args:
        mask: (H, W) new mask, float32 (0..1) or uint8 (0..255), C-contiguous. numpy
            runs on the CPU; cupy / torch CUDA arrays on their device and current
            stream, without synchronising.
        prev: (H, W) previous (stabilised) mask, same dtype, shape and device.
        t_in: threshold for increases, >= 0, in the mask's units (0..1 or 0..255).
        t_out: threshold for decreases, >= 0, same units.
        roi: ``None`` (whole mask) or an (x, y, w, h) box of integers inside the mask;
            an empty box (w or h 0) gives ``out = mask``.
        out: optional (H, W) result buffer like ``mask``; it may be ``mask`` or ``prev``
            itself, any other overlap is refused.

    Returns:
        The stabilised mask, (H, W), ``mask``'s dtype, kind and device (``out`` when given).
        CPU and GPU give the same bytes.

    Raises:
        TypeError, ValueError: bad arguments, named in the message; nothing is written.

    Example:
        >>> import numpy as np, ffaccel
        >>> prev = np.array([[0.50, 0.50, 0.50]], np.float32)
        >>> new = np.array([[0.52, 0.70, 0.20]], np.float32)
        >>> ffaccel.mask_hysteresis(new, prev, t_in=0.05, t_out=0.1).tolist()
        [[0.5, 0.699999988079071, 0.20000000298023224]]
    """
    m = _mask(mask, "mask")
    p = _mask(prev, "prev")
    if p.view.shape != m.view.shape or p.view.dtype != m.view.dtype:
        raise ValueError(f"prev: expected {m.view.dtype} of shape {m.view.shape} like mask, "
                         f"got {p.view.dtype} of shape {p.view.shape}")
    _checks.same_device([("mask", m.view), ("prev", p.view)])
    thresholds = _f32(t_in, "t_in", 0.0), _f32(t_out, "t_out", 0.0)
    box = _roi(roi, m.h, m.w)
    return _run(m, p, out, *thresholds, None, box)


def _ring_gpu(v: _arrays.ArrayView, lo: float, hi: float) -> tuple[Any, np.ndarray, np.ndarray]:
    """Ring bytes on the device, and its row/column occupancy on the host (synchronises)."""
    inside = (v.obj > lo) & (v.obj < hi)  # element-wise ops of the array's own framework
    return (_arrays.astype(inside, np.dtype(np.uint8)), _arrays.to_numpy(_arrays.any_axis(inside, 1)),
            _arrays.to_numpy(_arrays.any_axis(inside, 0)))


def seam_ring(mask: Any, lo: float, hi: float) -> tuple[Any, tuple[int, int, int, int] | None]:
    """The seam ring of a soft mask, ``lo < mask < hi`` (both ends open), and its bounding box.

    Args:
        mask: (H, W) float32 (0..1) or uint8 (0..255) mask, C-contiguous.
        lo: lower bound in the mask's units, excluded (pixels equal to it are solid).
        hi: upper bound, excluded; must be above ``lo``. Both are rounded to float32.

    Returns:
        ``(ring, bbox)``: ``ring`` is an (H, W) uint8 array of 0/1 of ``mask``'s kind and
        device; ``bbox`` is the tight ``(x, y, w, h)`` box of the ring's pixels as Python
        ints, or ``None`` when the ring is empty. On the CPU one C++ pass computes both.
        On the GPU the ring is made with the framework's element-wise ops and the box
        is read back to the host, which synchronises the current stream.

    Raises:
        TypeError, ValueError: bad arguments, named in the message.

    Example:
        >>> import numpy as np, ffaccel
        >>> m = np.zeros((5, 6), np.float32); m[1:4, 2:4] = 0.5; m[2, 3] = 1.0
        >>> ring, box = ffaccel.seam_ring(m, 0.0, 1.0)
        >>> box, int(ring.sum())
        ((2, 1, 2, 3), 5)
    """
    m = _mask(mask, "mask")
    lo32, hi32 = _ring_bounds(lo, hi)
    if m.view.on_gpu:
        ring, rows, cols = _ring_gpu(m.view, lo32, hi32)
        if not rows.any():
            return ring, None
        ys, xs = np.flatnonzero(rows), np.flatnonzero(cols)
        return ring, (int(xs[0]), int(ys[0]), int(xs[-1] - xs[0] + 1), int(ys[-1] - ys[0] + 1))
    ring_obj = _arrays.empty(m.view, m.view.shape, np.dtype(np.uint8))
    ring_view = _arrays.view(ring_obj, "ring")
    x, y, w, h = _core.seam_ring(m.core_image(), lo32, hi32, _core_mask(ring_view, m.h, m.w))
    return ring_obj, ((x, y, w, h) if w > 0 else None)


class MaskHysteresis:
    """Per-face-track mask stabiliser for video: hysteresis on the seam ring, frame to frame.

    The state is the previous stabilised mask (one (H, W) array). Each :meth:`update`
    applies, per pixel::

        out = mask                                    if not (ring_lo < mask < ring_hi)
        out = mask_hysteresis(mask, state)            otherwise  (t_in, t_out as given)

    so solid regions follow the new mask at once (the face may move) and only the seam
    ring's soft pixels are held against small wobbles. Because no pixel outside the
    ring can be held, the CPU path computes the ring's bounding box (one C++ pass that
    only reads) and runs :func:`mask_hysteresis` over that box only; the GPU path runs
    the same rule over the whole mask, which needs no host synchronisation and gives
    the same bytes.

    Args:
        t_in: threshold for increases, >= 0, in the mask's units (0..1 or 0..255).
        t_out: threshold for decreases, >= 0.
        ring: ``(ring_lo, ring_hi)``, the open interval of soft values that may be held,
            in the mask's units; ``None`` (default) means every soft value: (0, 1) for
            float32 masks, (0, 255) for uint8 masks.

    The first :meth:`update` (and the first after :meth:`reset`) returns a copy of the
    mask. A change of shape, dtype or device raises ``ValueError`` until :meth:`reset`.
    The returned array is also the new state: treat it as read-only (writing into it
    changes what the next frame is compared with).

    Example:
        >>> import numpy as np, ffaccel
        >>> track = ffaccel.MaskHysteresis(t_in=0.05, t_out=0.05)
        >>> first = track.update(np.array([[0.0, 0.4, 1.0]], np.float32))
        >>> track.update(np.array([[0.0, 0.43, 1.0]], np.float32)).tolist()   # 0.03 wobble held
        [[0.0, 0.4000000059604645, 1.0]]
        >>> track.update(np.array([[0.2, 0.6, 0.9]], np.float32)).tolist()    # big moves pass
        [[0.20000000298023224, 0.6000000238418579, 0.8999999761581421]]
    """

    def __init__(self, t_in: float, t_out: float, ring: tuple[float, float] | None = None) -> None:
        self.t_in = _f32(t_in, "t_in", 0.0)
        self.t_out = _f32(t_out, "t_out", 0.0)
        self.ring: tuple[float, float] | None = None
        if ring is not None:
            if not isinstance(ring, tuple | list) or len(ring) != 2:
                raise TypeError(f"ring: expected None or (ring_lo, ring_hi), got {ring!r}")
            self.ring = _ring_bounds(ring[0], ring[1], "ring_lo", "ring_hi")
        self._state: Any = None
        self._state_view: _arrays.ArrayView | None = None

    @property
    def state(self) -> Any:
        """The previous stabilised mask, or ``None`` before the first update."""
        return self._state

    def reset(self) -> None:
        """Forget the previous mask (a new shot, or the track was lost)."""
        self._state = None
        self._state_view = None

    def update(self, mask: Any) -> Any:
        """Stabilise ``mask`` against the previous result; returns the new (H, W) mask."""
        m = _mask(mask, "mask")
        prev = self._state_view
        if prev is None:
            result = _run(m, m, None, 0.0, 0.0, None, _NO_ROI)  # empty box: a copy of mask
        else:
            if (prev.shape, prev.dtype, prev.kind, prev.device) != (m.view.shape, m.view.dtype, m.view.kind,
                                                                    m.view.device):
                raise ValueError(f"mask: expected {prev.dtype} {prev.shape} in {prev.where()} like the previous "
                                 f"frame, got {m.view.dtype} {m.view.shape} in {m.view.where()}; call reset() first")
            p = _checks.ImageArg(prev, m.h, m.w, 1, True)
            ring = self.ring or ((0.0, 255.0) if m.view.dtype == np.uint8 else (0.0, 1.0))
            box = (0, 0, m.w, m.h)
            if not m.view.on_gpu:
                box_only = _core.Image(0, 0, 0, 1, 0, 0, _core.DType.U8)  # no ring bytes: the box alone
                box = _core.seam_ring(m.core_image(), ring[0], ring[1], box_only)
            result = _run(m, p, None, self.t_in, self.t_out, ring, box)
        self._state = result
        self._state_view = _arrays.view(result, "state")
        return result
