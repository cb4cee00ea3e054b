"""References for paste_back.

``paste_reference`` is written from the formula with numpy (the warps from
warp_reference.py). ``facefusion_paste_back`` is FaceFusion 3.5-3.8's
face_helper.paste_back as its behaviour is documented, written here with cv2 and numpy:
the ground truth that compat="facefusion" must equal byte for byte.
"""

from __future__ import annotations

import math

import numpy as np

from warp_reference import invert, warp_default, warp_opencv4, warp_opencv5

f32 = np.float32


def areas_and_maps(frame_shape, crop_shape, m, facefusion):
    fh, fw = frame_shape[:2]
    ch, cw = crop_shape[:2]
    a, b, c, d, e, f = invert(m)
    xs = [a * px + b * py + c for px, py in ((0, 0), (cw, 0), (cw, ch), (0, ch))]
    ys = [d * px + e * py + f for px, py in ((0, 0), (cw, 0), (cw, ch), (0, ch))]
    if facefusion:
        xs, ys = [float(np.rint(v)) for v in xs], [float(np.rint(v)) for v in ys]
    x1, x2 = (min(max(v, 0), fw) for v in (math.floor(min(xs)), math.ceil(max(xs))))
    y1, y2 = (min(max(v, 0), fh) for v in (math.floor(min(ys)), math.ceil(max(ys))))
    paste = np.array([[a, b, c - x1], [d, e, f - y1]])
    return (x1, y1, x2, y2), paste


def paste_reference(frame, crop, mask, m, compat=None):
    """compat: None, 'facefusion-opencv4' or 'facefusion-opencv5'."""
    facefusion = compat is not None
    (x1, y1, x2, y2), paste = areas_and_maps(frame.shape, crop.shape, m, facefusion)
    out = frame.copy()
    if x2 <= x1 or y2 <= y1:
        return out
    size = (x2 - x1, y2 - y1)
    if compat is None:
        cm = warp_default(crop, paste, size, "replicate", raw=True)
        mm = warp_default(mask, paste, size, "constant", 0.0, raw=True)
        if mask.dtype == np.uint8:
            mm = mm * f32(1 / 255)
    else:
        warp = warp_opencv5 if "opencv5" in compat else warp_opencv4  # "-opencv5.0" and the deprecated "-opencv5"
        # warpAffine inverts the paste matrix itself; the references take the forward map.
        cm = warp(crop, paste, size, "replicate").astype(f32)
        mm = warp(mask, paste, size, "constant", 0.0).astype(f32)
    mm = np.clip(mm, 0, 1)[..., None]
    area = frame[y1:y2, x1:x2].astype(f32)
    r = area * (f32(1) - mm) + cm * mm
    r = np.clip(np.trunc(r) if facefusion else np.rint(r), 0, 255)
    out[y1:y2, x1:x2] = r.astype(np.uint8)
    return out


def facefusion_paste_back(frame, crop, mask, m):
    """FaceFusion's paste_back with the installed cv2 (written from its documented steps)."""
    import cv2

    inverse = cv2.invertAffineTransform(m)
    h, w = crop.shape[:2]
    corners = np.array([[0, 0], [w, 0], [w, h], [0, h]])
    pts = cv2.transform(corners.reshape(-1, 1, 2), inverse).reshape(-1, 2)
    lo = np.floor(pts.min(axis=0)).astype(int)
    hi = np.ceil(pts.max(axis=0)).astype(int)
    x1, y1 = np.clip(lo, 0, [frame.shape[1], frame.shape[0]])
    x2, y2 = np.clip(hi, 0, [frame.shape[1], frame.shape[0]])
    paste_matrix = inverse.copy()
    paste_matrix[0, 2] -= x1
    paste_matrix[1, 2] -= y1
    size = (int(x2 - x1), int(y2 - y1))
    if size[0] <= 0 or size[1] <= 0:
        # cv2 reads a zero dsize as "the source size" and FaceFusion then fails to
        # broadcast; ffaccel leaves the frame unchanged instead.
        raise ValueError("face misses the frame")
    m_area = cv2.warpAffine(mask, paste_matrix, size).clip(0, 1)[..., None]
    c_area = cv2.warpAffine(crop, paste_matrix, size, borderMode=cv2.BORDER_REPLICATE)
    out = frame.copy()
    area = out[y1:y2, x1:x2]
    out[y1:y2, x1:x2] = (area * (1 - m_area) + c_area * m_area).astype(out.dtype)
    return out
