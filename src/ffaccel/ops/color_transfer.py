"""``color_transfer``: match a swapped crop's colour to the target face, inside a mask.

Array-level implementation (numpy on the host, cupy on the GPU; torch CUDA tensors are
viewed through cupy zero-copy and handed back as torch). The per-pixel work runs where
the crop lives; the statistics (a few numbers per face) come back to the host, where the
transform is solved and where :class:`ColorTransferState` smooths them over time. That
one small device-to-host read per call synchronises the stream, so ``color_transfer``
cannot be captured inside a CUDA graph (paste_back can). CPU and GPU give the same bytes:
the sums are exact in any order and the Lab roots are made of basic IEEE operations
(``ffaccel/_portable.py``; docs/blending.md, "CPU and GPU").

Methods, statistics always weighted by the mask (pixels with mask 0 do not count):

- ``"reinhard_lab"``: per channel in CIE Lab, ``(x - mean_src) * std_ref / std_src + mean_ref``
  (Reinhard et al. 2001, with CIE Lab in place of lαβ).
- ``"linear_gain"``: per BGR channel, ``x * mean_ref / mean_src``.
- ``"mkl"``: the Monge-Kantorovich linear map in BGR (Pitie & Kokaram 2007): the
  symmetric T with ``T cov_src T = cov_ref``, ``(x - mean_src) T + mean_ref``.

Lab follows cv2.cvtColor's documented float conversion (sRGB curve, OpenCV's XYZ matrix
and D65 white, 0.008856 / 7.787 knee); see docs/blending.md for how it compares with the
installed OpenCV.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from ffaccel import _checks, _colorspace, _portable
from ffaccel._arrays import as_xp, device_scope, like_input
from ffaccel.ops._color_state import ColorStats, ColorTransferState

__all__ = ["color_transfer", "bgr_to_lab", "lab_to_bgr", "COLOR_METHODS", "ColorTransferState", "ColorStats"]

COLOR_METHODS = ("reinhard_lab", "linear_gain", "mkl")

# The Lab of reinhard_lab: OpenCV's documented float formula (ffaccel/_colorspace.py, OPENCV),
# its roots and powers made of basic operations (exact=True), so numpy and cupy agree to the bit.
_bgr01_to_lab = functools.partial(_colorspace.bgr01_to_lab, c=_colorspace.OPENCV, exact=True)
_lab_to_bgr01 = functools.partial(_colorspace.lab_to_bgr01, c=_colorspace.OPENCV, exact=True)
_linear_to_lab = functools.partial(_colorspace.linear_bgr_to_lab, c=_colorspace.OPENCV, exact=True)
_mix = _colorspace.mix_pixels


def bgr_to_lab(image: Any) -> Any:
    """BGR (uint8 0..255 or float32 0..255) to float32 CIE Lab, cv2's float formula.

    Args:
        image: (H, W, 3) numpy/cupy/torch array.

    Returns:
        (H, W, 3) float32 L (0..100), a, b of the input's kind.

    Example:
        >>> import numpy as np
        >>> [round(float(v), 2) for v in bgr_to_lab(np.array([[[0, 0, 255]]], np.uint8))[0, 0]]
        [53.24, 80.09, 67.2]
    """
    arr, xp = _colour_image(image, "image")
    with device_scope(image):
        return like_input(image, _to_lab(xp, arr))


def lab_to_bgr(lab: Any) -> Any:
    """Inverse of :func:`bgr_to_lab`: float32 BGR 0..255 (unclipped) of the input's kind.

    Example:
        >>> import numpy as np
        >>> lab = bgr_to_lab(np.array([[[10, 120, 250]]], np.uint8))
        >>> np.rint(lab_to_bgr(lab)).astype(int).tolist()
        [[[10, 120, 250]]]
    """
    arr, xp = as_xp(lab, "lab")
    if arr.ndim != 3 or arr.shape[2] != 3:
        raise ValueError(f"lab: expected shape (H, W, 3), got {tuple(arr.shape)}")
    with device_scope(lab):
        return like_input(lab, _lab_to_bgr01(xp, arr.astype(xp.float32)) * np.float32(255))


def _to_lab(xp: Any, crop: Any) -> Any:
    """(H, W, 3) uint8 or float32 BGR 0..255 -> float32 Lab; uint8 through the linear-light table."""
    if crop.dtype == np.uint8:  # the 256 codes' linear light, computed once on the host: same on every device
        table = xp.asarray(_colorspace.decode_table())
        return _blockwise(xp, lambda px: _linear_to_lab(xp, xp.take(table, px)), crop)
    return _blockwise(xp, lambda px: _bgr01_to_lab(xp, px * np.float32(1 / 255)), crop)


def _colour_image(x: Any, name: str) -> tuple[Any, Any]:
    return _checks.xp_image(x, name, (np.uint8, np.float32), (3,))


def _finite(xp: Any, arr: Any, name: str) -> None:
    """float32 crops must be finite: statistics of NaN or infinity mean nothing (one device read)."""
    if arr.dtype == np.float32 and not bool(xp.isfinite(arr).all()):
        raise ValueError(f"{name}: expected finite values, got NaN or infinity")


def _weights(xp: Any, mask: Any, shape: tuple[int, ...], name: str) -> Any:
    m, mxp = _checks.xp_image(mask, name, (np.uint8, np.float32), None)
    _checks.same_xp(name, mxp, "src_crop", xp)
    if tuple(m.shape) != tuple(shape[:2]):
        raise ValueError(f"{name}: expected shape {tuple(shape[:2])}, got {tuple(m.shape)}")
    if m.dtype == np.uint8:
        return m.astype(xp.float32) * np.float32(1 / 255)
    return xp.clip(xp.nan_to_num(m, nan=0.0), 0, 1)  # NaN weighs 0


_PAIRS = ((0, 0), (0, 1), (0, 2), (1, 1), (1, 2), (2, 2))  # the covariance's upper triangle


def _stats(xp: Any, pixels: Any, w: Any, name: str, crop: str, full_cov: bool) -> ColorStats:
    """Mask-weighted mean, std and (optionally) covariance of (H, W, 3) pixels, on the host.

    Two passes (mean, then squared deviations), every sum exact whatever its order
    (:func:`ffaccel._portable.exact_sums`) and every term a chain of single float64
    operations: numpy and cupy give the same statistics to the bit. ``name`` and ``crop``
    name the weights and the pixels in errors.
    """
    p = xp.ascontiguousarray(pixels.reshape(-1, 3).T, dtype=xp.float64)  # (3, N): a plane per channel
    wf = w.reshape(1, -1).astype(xp.float64)
    total, *sums = _sums(xp, xp.concatenate([wf, p * wf]), crop)
    if total <= 1e-6:
        raise ValueError(f"{name}: expected some pixel with a weight above 0 (else there are no statistics), got none")
    mean = np.array(sums) / total
    d = p - xp.asarray(mean[:, None])
    if full_cov:
        dw = d * wf
        cov = np.empty((3, 3))
        for (i, j), v in zip(_PAIRS, _sums(xp, xp.stack([dw[i] * d[j] for i, j in _PAIRS]), crop)):
            cov[i, j] = cov[j, i] = v / total
        var = np.diag(cov).copy()
    else:
        var = np.array(_sums(xp, d * d * wf, crop)) / total
        cov = None
    return ColorStats(mean, np.sqrt(np.maximum(var, 0.0)), cov)


def _sums(xp: Any, terms: Any, crop: str) -> list[float]:
    try:
        return _portable.exact_sums(xp, terms)
    except ValueError:  # only float32 values far outside 0..255 get here (their Lab overflows)
        raise ValueError(f"{crop}: expected values whose statistics are finite (0..255), got values that overflow"
                         ) from None


def _sqrtm_psd(c: np.ndarray, inverse: bool = False) -> np.ndarray:
    vals, vecs = np.linalg.eigh(c)
    vals = np.maximum(vals, 1e-6)  # a flat channel (one colour) has no spread to match
    return (vecs * (vals ** (-0.5 if inverse else 0.5))) @ vecs.T


def mkl_matrix(cov_src: np.ndarray, cov_ref: np.ndarray) -> np.ndarray:
    """The symmetric positive T with ``T @ cov_src @ T == cov_ref`` (Monge-Kantorovich).

    Example:
        >>> import numpy as np
        >>> a, b = np.diag([4.0, 1.0, 9.0]), np.diag([1.0, 4.0, 9.0])
        >>> t = mkl_matrix(a, b)
        >>> bool(np.allclose(t @ a @ t, b))
        True
    """
    s_half, s_inv_half = _sqrtm_psd(cov_src), _sqrtm_psd(cov_src, inverse=True)
    return s_inv_half @ _sqrtm_psd(s_half @ cov_ref @ s_half) @ s_inv_half


def color_transfer(src_crop: Any, ref_crop: Any, mask: Any, method: str = "reinhard_lab", *, ref_mask: Any = None,
                   state: ColorTransferState | None = None, track: Any = 0) -> Any:
    """Recolour ``src_crop`` so that its colour statistics inside ``mask`` match ``ref_crop``'s.

    Args:
        src_crop: (h, w, 3) BGR uint8 or float32 (0..255): the swapped face crop.
        ref_crop: (h', w', 3) BGR, same kinds: the target face (the frame's own face, cut
            with the same alignment), whose colour the result should take.
        mask: (h, w) float32 0..1 or uint8 0..255 weights of src_crop's pixels in the
            statistics (the face mask); pixels with 0 (or NaN) do not count. float32
            crops must be finite (NaN or infinity raises ValueError).
        method: one of ``COLOR_METHODS`` (see the module docstring).
        ref_mask: weights for ref_crop; defaults to ``mask`` (then shapes must match).
        state: a :class:`ColorTransferState` that smooths the statistics per face track
            over time (EMA plus deadband, freeze for the end-of-sequence guard).
        track: the face track's key in ``state``.

    Returns:
        The recoloured crop, src_crop's shape, dtype and kind (uint8 results rounded half
        to even and saturated). The whole crop is transformed; the paste mask decides
        what reaches the frame.

    Raises:
        TypeError, ValueError: bad arguments, named in the message (an all-zero mask too);
            nothing of the caller's is written.

    Example:
        >>> import numpy as np, ffaccel
        >>> src = np.full((8, 8, 3), (60, 90, 150), np.uint8)
        >>> ref = np.full((8, 8, 3), (70, 100, 170), np.uint8)
        >>> out = ffaccel.color_transfer(src, ref, np.ones((8, 8), np.float32), method="linear_gain")
        >>> out[0, 0].tolist()
        [70, 100, 170]
    """
    _checks.choice(method, "method", COLOR_METHODS)
    if state is not None and not isinstance(state, ColorTransferState):
        raise TypeError(f"state: expected a ColorTransferState or None, got {type(state).__name__}")
    _checks.hashable(track, "track")
    src, xp = _colour_image(src_crop, "src_crop")
    ref, rxp = _colour_image(ref_crop, "ref_crop")
    _checks.same_xp("ref_crop", rxp, "src_crop", xp)
    with device_scope(src_crop):
        w_src = _weights(xp, mask, src.shape, "mask")
        w_ref = _weights(xp, mask if ref_mask is None else ref_mask, ref.shape, "mask" if ref_mask is None else "ref_mask")
        _finite(xp, src, "src_crop")
        _finite(xp, ref, "ref_crop")
        if method == "reinhard_lab":
            sp, rp = _to_lab(xp, src), _to_lab(xp, ref)
        else:
            sp, rp = src.astype(xp.float32), ref.astype(xp.float32)
        full = method == "mkl"
        s_stats = _stats(xp, sp, w_src, "mask", "src_crop", full)
        r_stats = _stats(xp, rp, w_ref, "mask" if ref_mask is None else "ref_mask", "ref_crop", full)
        if state is not None:
            s_stats, r_stats = state.update(track, method, s_stats, r_stats)
        # The statistics are host numpy; cupy does not mix host arrays into device arithmetic.
        def dev(v: np.ndarray) -> Any:
            return xp.asarray(v.astype(np.float32))

        def finish(res: Any) -> Any:
            return xp.clip(xp.rint(res), 0, 255).astype(xp.uint8) if src.dtype == np.uint8 else res.astype(xp.float32)

        if method == "reinhard_lab":
            gain = r_stats.std / np.maximum(s_stats.std, 1e-6)
            m_src, g, m_ref = dev(s_stats.mean), dev(gain), dev(r_stats.mean)
            res = _blockwise(xp, lambda lab: finish(_lab_to_bgr01(xp, (lab - m_src) * g + m_ref) * np.float32(255)), sp,
                             src.dtype)
        elif method == "linear_gain":
            res = finish(sp * dev(r_stats.mean / np.maximum(s_stats.mean, 1e-6)))
        else:
            t = mkl_matrix(s_stats.cov, r_stats.cov)
            res = finish(_mix(xp, t, sp - dev(s_stats.mean)) + dev(r_stats.mean))
        return like_input(src_crop, res)


_BLOCK = 4096  # pixels per numpy block: a block's temporaries stay in the CPU's cache


def _blockwise(xp: Any, fn: Any, pixels: Any, dtype: Any = np.float32) -> Any:
    """``fn`` over (..., 3) pixels, per pixel; numpy in blocks of pixels (the same bytes, faster), cupy at once."""
    if xp is not np:
        return fn(pixels)
    flat = pixels.reshape(-1, 3)
    out = np.empty(flat.shape, dtype)
    for i in range(0, len(flat), _BLOCK):
        out[i:i + _BLOCK] = fn(flat[i:i + _BLOCK])
    return out.reshape(pixels.shape)
