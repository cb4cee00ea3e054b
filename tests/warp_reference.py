"""Independent numpy references for warp_affine, written from each algorithm.

Float32 arithmetic is done one numpy operation at a time (each rounds once, as the
kernels do); fused multiply-adds are emulated exactly by ``fma32``.
"""

from __future__ import annotations

import numpy as np

f32, f64 = np.float32, np.float64


def fma32(a, b, c):
    """Correctly rounded float32 a*b + c.

    a*b is exact in float64 (24+24 bits); the float64 sum rounds once, and rounding that
    to float32 is correct except when it lands exactly on a float32 midpoint while the
    exact sum did not: the TwoSum error term then says which way to go.
    """
    a = np.asarray(a, f32)
    b = np.asarray(b, f32)
    c = np.asarray(c, f32)
    p = a.astype(f64) * b.astype(f64)
    c64 = c.astype(f64)
    s = p + c64
    bb = s - p
    err = (p - (s - bb)) + (c64 - bb)
    r = s.astype(f32)
    r64 = r.astype(f64)
    d = s - r64
    other = np.nextafter(r, np.where(d > 0, f32(np.inf), f32(-np.inf))).astype(f32)
    mid = (r64 + other.astype(f64)) / 2
    tie = (d != 0) & (s == mid) & (err != 0)
    hi, lo = np.maximum(r, other), np.minimum(r, other)
    return np.where(tie, np.where(err > 0, hi, lo), r).astype(f32)


def invert(m) -> np.ndarray:
    """OpenCV's affine inverse, as 6 doubles."""
    a, b, c, d, e, f = np.asarray(m, f64).reshape(6)
    D = 1.0 / (a * e - b * d)
    a11, a22, b12, b21 = e * D, a * D, b * -D, d * -D
    return np.array([a11, b12, -a11 * c - b12 * f, b21, a22, -b21 * c - a22 * f])


def _taps(src3, ix, iy, border, bval):
    h, w = src3.shape[:2]
    out = []
    for dy in (0, 1):
        for dx in (0, 1):
            jx, jy = ix + dx, iy + dy
            v = src3[np.clip(jy, 0, h - 1), np.clip(jx, 0, w - 1)].astype(f32)
            if border == "constant":
                inside = (jx >= 0) & (jx < w) & (jy >= 0) & (jy < h)
                v = np.where(inside[..., None], v, bval)
            out.append(v)
    return out  # p00, p01, p10, p11


def _bval(dtype, value, c):
    v = np.broadcast_to(np.asarray(value, f64), (c,)) if np.ndim(value) == 0 else np.asarray(value, f64)[:c]
    if dtype == np.uint8:
        v = np.clip(np.rint(v), 0, 255)
    return v.astype(f32)


def _finish(v, src, raw=False):
    if raw:  # the unrounded float32 samples (what paste_back blends in its default mode)
        return v.astype(f32) if src.ndim == 3 else v[..., 0].astype(f32)
    out = np.clip(np.rint(v), 0, 255).astype(np.uint8) if src.dtype == np.uint8 else v.astype(f32)
    return out if src.ndim == 3 else out[..., 0]


def warp_default(src, m, dsize, border="replicate", border_value=0.0, raw=False):
    """ffaccel's own formula: float32, no FMA, lerp a + t*(b - a), round half to even."""
    src3 = src if src.ndim == 3 else src[..., None]
    k = invert(m).astype(f32)
    xs = np.arange(dsize[0], dtype=f32)[None, :]
    ys = np.arange(dsize[1], dtype=f32)[:, None]
    sx = k[0] * xs + (k[1] * ys + k[2])
    sy = k[3] * xs + (k[4] * ys + k[5])
    flx, fly = np.floor(sx), np.floor(sy)
    fx, fy = (sx - flx)[..., None], (sy - fly)[..., None]
    p00, p01, p10, p11 = _taps(src3, flx.astype(np.int64), fly.astype(np.int64), border,
                               _bval(src.dtype, border_value, src3.shape[2]))
    v0 = p00 + fx * (p01 - p00)
    v1 = p10 + fx * (p11 - p10)
    return _finish(v0 + fy * (v1 - v0), src, raw)


def warp_opencv5(src, m, dsize, border="replicate", border_value=0.0, lanes=16):
    """OpenCV 5.0 warpAffine INTER_LINEAR as its AVX2 kernels compute it.

    Columns below ``w - w % lanes`` go through the vector loop, the rest through the
    scalar tail, whose coordinate expression GCC contracts differently.
    """
    src3 = src if src.ndim == 3 else src[..., None]
    k = invert(m).astype(f32)
    w = dsize[0]
    xs = np.arange(w, dtype=f32)[None, :]
    ys = np.arange(dsize[1], dtype=f32)[:, None]
    vec = xs < (w - w % lanes)
    sx = np.where(vec, fma32(k[0], xs, k[1] * ys + k[2]), fma32(xs, k[0], k[1] * ys) + k[2])
    sy = np.where(vec, fma32(k[3], xs, k[4] * ys + k[5]), fma32(xs, k[3], k[4] * ys) + k[5])
    flx, fly = np.floor(sx), np.floor(sy)
    fx, fy = (sx - flx)[..., None], (sy - fly)[..., None]
    p00, p01, p10, p11 = _taps(src3, flx.astype(np.int64), fly.astype(np.int64), border,
                               _bval(src.dtype, border_value, src3.shape[2]))
    v0 = fma32(fx, p01 - p00, p00)
    v1 = fma32(fx, p11 - p10, p10)
    return _finish(fma32(fy, v1 - v0, v0), src)


def warp_opencv4(src, m, dsize, border="replicate", border_value=0.0):
    """OpenCV 4.x warpAffine INTER_LINEAR: 1/32-px fixed-point coordinates and weights."""
    src3 = src if src.ndim == 3 else src[..., None]
    h, w, c = src3.shape
    k = invert(m)
    xs = np.arange(dsize[0], dtype=f64)
    ys = np.arange(dsize[1], dtype=f64)
    adelta = np.rint(k[0] * xs * 1024).astype(np.int64)
    bdelta = np.rint(k[3] * xs * 1024).astype(np.int64)
    x0 = np.rint((k[1] * ys + k[2]) * 1024).astype(np.int64) + 16
    y0 = np.rint((k[4] * ys + k[5]) * 1024).astype(np.int64) + 16
    X = (x0[:, None] + adelta[None, :]) >> 5
    Y = (y0[:, None] + bdelta[None, :]) >> 5
    ix, iy = np.clip(X >> 5, -32768, 32767), np.clip(Y >> 5, -32768, 32767)
    tx, ty = X & 31, Y & 31
    bval = _bval(src.dtype, border_value, c)
    p00, p01, p10, p11 = _taps(src3, ix, iy, border, bval)
    if src.dtype == np.uint8:
        w00, w01 = (32 - ty) * (32 - tx) * 32, (32 - ty) * tx * 32
        w10, w11 = ty * (32 - tx) * 32, ty * tx * 32
        acc = sum(p.astype(np.int64) * wt[..., None] for p, wt in ((p00, w00), (p01, w01), (p10, w10), (p11, w11)))
        out = np.clip((acc + 16384) >> 15, 0, 255).astype(np.uint8)
    else:
        fx, fy = tx.astype(f32) * f32(1 / 32), ty.astype(f32) * f32(1 / 32)
        w00, w01 = (f32(1) - fy) * (f32(1) - fx), (f32(1) - fy) * fx
        w10, w11 = fy * (f32(1) - fx), fy * fx
        out = p00 * w00[..., None]
        out = out + p01 * w01[..., None]
        out = out + p10 * w10[..., None]
        out = out + p11 * w11[..., None]
    if border == "constant":
        gone = (ix >= w) | (ix + 1 < 0) | (iy >= h) | (iy + 1 < 0)
        out = np.where(gone[..., None], bval.astype(out.dtype), out)
    return out if src.ndim == 3 else out[..., 0]


REFERENCES = {None: warp_default, "opencv5.0": warp_opencv5, "opencv5": warp_opencv5, "opencv4": warp_opencv4}  # "opencv5": deprecated alias
