"""Independent numpy references for composite and the hysteresis ops, from their documented formulas.

``composite_f32`` follows the float32 formula step by step (numpy rounds each float32
operation once, as the kernels do), so it must match to the byte. ``composite_f64``
is the same mathematics in float64, used to bound the float32 rounding.
"""

from __future__ import annotations

import numpy as np

F32 = np.float32


def alpha255_f32(alpha: np.ndarray) -> np.ndarray:
    if alpha.dtype == np.uint8:
        return alpha.astype(F32)
    a = np.where(alpha > 0, alpha, F32(0)).astype(F32)  # NaN fails the compare: 0
    a = np.where(a < 1, a, F32(1)).astype(F32)
    return a * F32(255)


def band_remap_f32(a: np.ndarray, band, feather: float) -> np.ndarray:
    if band is None:
        return a
    lo, hi = F32(band[0]), F32(band[1])
    width = hi - lo
    f = F32(feather)
    t = (a - lo) / width
    s = (t * t) * (F32(3) - F32(2) * t)
    pulled = lo + width * (t + f * (s - t))
    return np.where((a > lo) & (a < hi), pulled, a).astype(F32)


def composite_f32(fg, bg, alpha, band=(30, 225), feather=0.15) -> np.ndarray:
    if alpha.ndim == 3:
        alpha = alpha[..., 0]
    m = band_remap_f32(alpha255_f32(alpha), band, feather) / F32(255)
    f, b = fg.astype(F32), bg.astype(F32)
    v = b + m[..., None] * (f - b)
    return np.clip(np.rint(v), 0, 255).astype(np.uint8)


def effective_alpha_f64(a255: np.ndarray, band, feather: float) -> np.ndarray:
    """The remapped alpha (0..255) in float64: what the float32 formula approximates."""
    a = np.asarray(a255, np.float64)
    if band is None:
        return a
    lo, hi = float(band[0]), float(band[1])
    t = (a - lo) / (hi - lo)
    s = t * t * (3 - 2 * t)
    return np.where((a > lo) & (a < hi), lo + (hi - lo) * ((1 - feather) * t + feather * s), a)


def composite_f64(fg, bg, alpha, band=(30, 225), feather=0.15) -> np.ndarray:
    a = alpha.astype(np.float64) if alpha.dtype == np.uint8 else np.clip(np.nan_to_num(alpha.astype(np.float64)), 0, 1) * 255
    m = effective_alpha_f64(a, band, feather) / 255
    v = bg * (1 - m[..., None]) + fg * m[..., None]
    return np.clip(np.rint(v), 0, 255).astype(np.uint8)


def hysteresis_ref(mask, prev, t_in, t_out, roi=None, ring=None) -> np.ndarray:
    """out = mask where it moved by more than a threshold (inside roi, inside ring), else prev."""
    d = mask.astype(F32) - prev.astype(F32)
    moved = (d > F32(t_in)) | (-d > F32(t_out))
    held = ~moved
    if ring is not None:
        m = mask.astype(F32)
        held &= (m > F32(ring[0])) & (m < F32(ring[1]))
    if roi is not None:
        x, y, w, h = roi
        box = np.zeros(mask.shape, bool)
        box[y:y + h, x:x + w] = True
        held &= box
    return np.where(held, prev, mask)


def ring_ref(mask, lo, hi):
    m = mask.astype(F32)
    ring = (m > F32(lo)) & (m < F32(hi))
    if not ring.any():
        return ring.astype(np.uint8), None
    ys, xs = np.nonzero(ring)
    return ring.astype(np.uint8), (int(xs.min()), int(ys.min()), int(xs.max() - xs.min() + 1),
                                   int(ys.max() - ys.min() + 1))
