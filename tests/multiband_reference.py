"""Independent numpy reference for paste_back(blend="multiband").

Written from the formula in kernels/include/ffaccel/multiband.h with whole-array numpy
operations in float32, summing the taps in the order the kernel promises, so it is
expected to match the kernel byte for byte. The warps come from warp_reference.py via
paste_reference.areas_and_maps.
"""

from __future__ import annotations

import numpy as np

from paste_reference import areas_and_maps
from warp_reference import warp_default

f32 = np.float32
W5 = [f32(1), f32(4), f32(6), f32(4), f32(1)]


def _pad(a, axis):
    widths = [(0, 0)] * a.ndim
    widths[axis] = (2, 2)
    return np.pad(a, widths, mode="reflect")  # numpy's "reflect" is reflect-101


def _take(a, axis, start, count, step):
    idx = [slice(None)] * a.ndim
    idx[axis] = slice(start, start + step * (count - 1) + 1, step)
    return a[tuple(idx)]


def reduce(a):
    """[1 4 6 4 1]/16 on both axes, every other pixel; (h+1)//2 x (w+1)//2."""
    h, w = a.shape[:2]
    oh, ow = (h + 1) // 2, (w + 1) // 2
    p = _pad(a, 1)
    t = [_take(p, 1, k, ow, 2) for k in range(5)]
    rows = ((t[0] + t[4]) + f32(4) * (t[1] + t[3])) + f32(6) * t[2]
    p = _pad(rows, 0)
    t = [_take(p, 0, k, oh, 2) for k in range(5)]
    return (((t[0] + t[4]) + f32(4) * (t[1] + t[3])) + f32(6) * t[2]) * f32(1 / 256)


def expand(coarse, fh, fw):
    """pyrUp to fh x fw: coarse on the even pixels, reflect-101, taps summed in order."""
    z = np.zeros((fh, fw) + coarse.shape[2:], f32)
    z[0::2, 0::2] = coarse
    p = _pad(z, 1)
    acc = np.zeros_like(z)
    for k in range(5):
        acc = acc + W5[k] * p[:, k:k + fw]
    p = _pad(acc, 0)
    out = np.zeros_like(z)
    for k in range(5):
        out = out + W5[k] * p[k:k + fh]
    return out * f32(1 / 64)


def multiband_area(area, crop_area, mask_area, levels):
    """The blended area (uint8) from the frame area, warped crop and clipped mask."""
    gd = [crop_area.astype(f32) - area.astype(f32)]
    gm = [mask_area.astype(f32)[..., None]]
    for _ in range(levels):
        gd.append(reduce(gd[-1]))
        gm.append(reduce(gm[-1]))
    bands = []
    for k in range(levels + 1):
        if k < levels:
            h, w = gd[k].shape[:2]
            bands.append(gm[k] * (gd[k] - expand(gd[k + 1], h, w)))
        else:
            bands.append(gm[k] * gd[k])
    r = bands[levels]
    for k in range(levels - 1, 0, -1):
        h, w = bands[k].shape[:2]
        r = bands[k] + expand(r, h, w)
    h, w = area.shape[:2]
    r = area.astype(f32) + (bands[0] + expand(r, h, w))
    return np.clip(np.rint(r), 0, 255).astype(np.uint8)


def multiband_reference(frame, crop, mask, m, levels=5):
    (x1, y1, x2, y2), paste = areas_and_maps(frame.shape, crop.shape, m, False)
    out = frame.copy()
    if x2 <= x1 or y2 <= y1:
        return out
    size = (x2 - x1, y2 - y1)
    cm = warp_default(crop, paste, size, "replicate", raw=True)
    mm = warp_default(mask, paste, size, "constant", 0.0, raw=True)
    if mask.dtype == np.uint8:
        mm = mm * f32(1 / 255)
    mm = np.clip(mm, 0, 1)
    out[y1:y2, x1:x2] = multiband_area(frame[y1:y2, x1:x2], cm, mm, levels)
    return out
