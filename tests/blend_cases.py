"""Synthetic blending cases and OpenCV anchors shared by the blend tests, the benchmark
(benchmarks/bench_blend.py) and the figures in docs/blending.md.

The case: a smooth, lightly noisy frame; the crop is the frame's own face region cut out
with the face matrix and shifted in colour (the swap's skin tone disagrees with the
frame), pasted with a hard (binary) elliptical mask: alpha paste leaves a visible step
at the ellipse.
"""

from __future__ import annotations

from typing import Any

import numpy as np

import ffaccel
from ffaccel.ops.paste_back import paste_areas

#: BGR colour offset of the crop against the frame.
COLOUR_OFFSET = np.array([24.0, -12.0, 18.0], np.float32)


def face_matrix(cx: float, cy: float, face_px: float, angle: float, crop: int) -> np.ndarray:
    """Frame -> crop matrix for a face of ``face_px`` px centred at (cx, cy)."""
    s = crop / face_px
    c, n = s * np.cos(angle), s * np.sin(angle)
    return np.array([[c, -n, crop / 2 - (c * cx - n * cy)], [n, c, crop / 2 - (n * cx + c * cy)]])


def smooth_frame(rng: np.random.Generator, h: int, w: int, noise: float = 3.0) -> np.ndarray:
    """A (h, w, 3) uint8 frame: colour ramps, a few soft blobs, Gaussian noise."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    img = np.stack([60 + 90 * xx / w, 80 + 70 * yy / h, 140 - 50 * xx / w + 30 * yy / h], -1)
    for _ in range(6):
        cx, cy, r = rng.uniform(0, w), rng.uniform(0, h), rng.uniform(0.05, 0.2) * min(h, w)
        img += rng.uniform(-30, 30, 3).astype(np.float32) * np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * r * r))[..., None]
    img += rng.normal(0, noise, img.shape).astype(np.float32)
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


def ellipse_mask(size: int, soft: float = 0.0) -> np.ndarray:
    """(size, size) float32 elliptical face mask; ``soft`` px of linear feather (0: binary)."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) + 0.5
    r = np.sqrt(((xx - size / 2) / (0.36 * size)) ** 2 + ((yy - size * 0.52) / (0.45 * size)) ** 2)
    if soft <= 0:
        return (r <= 1).astype(np.float32)
    return np.clip((1 - r) * (0.4 * size) / soft, 0, 1).astype(np.float32)


def seam_case(rng: np.random.Generator, frame_hw: tuple[int, int] = (360, 480), crop: int = 256,
              face_px: float = 200.0, noise: float = 1.0) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(frame, crop, mask, matrix): a colour-shifted crop of the frame, binary mask."""
    h, w = frame_hw
    frame = smooth_frame(rng, h, w, noise)
    m = face_matrix(w * 0.5, h * 0.5, face_px, 0.15, crop)
    cut = ffaccel.warp_affine(frame, m, (crop, crop)).astype(np.float32)
    crop_img = np.clip(np.rint(cut + COLOUR_OFFSET), 0, 255).astype(np.uint8)
    return frame, crop_img, ellipse_mask(crop), m


def area_of(frame: np.ndarray, crop: np.ndarray, m: np.ndarray) -> tuple[int, int, int, int]:
    x1, y1, x2, y2 = paste_areas((frame.shape[1], frame.shape[0]), (crop.shape[1], crop.shape[0]), m)[0]
    return int(x1), int(y1), int(x2), int(y2)


def warped_into_area(cv2: Any, frame, crop, mask, m):
    """The crop (REPLICATE) and mask (CONSTANT 0) warped into the paste area by cv2."""
    x1, y1, x2, y2 = area_of(frame, crop, m)
    inv = cv2.invertAffineTransform(m)
    inv[:, 2] -= (x1, y1)
    size = (x2 - x1, y2 - y1)
    c = cv2.warpAffine(crop, inv, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    k = np.clip(cv2.warpAffine(mask, inv, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT), 0, 1)
    return (x1, y1, x2, y2), c, k


def opencv_multiband_paste(cv2: Any, frame, crop, mask, m, bands: int = 5) -> np.ndarray:
    """cv2.detail_MultiBandBlender over the paste area: the frame area fed with weight
    1 - mask, the warped crop with weight mask (uint8 masks, as the blender takes)."""
    (x1, y1, x2, y2), c, k = warped_into_area(cv2, frame, crop, mask, m)
    k8 = np.rint(k * 255).astype(np.uint8)
    blender = cv2.detail_MultiBandBlender(0, bands)
    blender.prepare((0, 0, x2 - x1, y2 - y1))
    blender.feed(frame[y1:y2, x1:x2].astype(np.int16), 255 - k8, (0, 0))
    blender.feed(c.astype(np.int16), k8, (0, 0))
    res, _ = blender.blend(None, None)
    out = frame.copy()
    out[y1:y2, x1:x2] = np.clip(res, 0, 255).astype(np.uint8)
    return out


def opencv_seamless_clone(cv2: Any, frame, crop, mask, m) -> np.ndarray:
    """cv2.seamlessClone (NORMAL_CLONE) of the warped crop at its place in the frame."""
    (x1, y1, x2, y2), c, k = warped_into_area(cv2, frame, crop, mask, m)
    k8 = (k > 0.5).astype(np.uint8) * 255
    ys, xs = np.nonzero(k8)
    # seamlessClone centres the mask's bounding box at `p`; put it back where it was.
    centre = (int(x1 + (xs.min() + xs.max() + 1) // 2), int(y1 + (ys.min() + ys.max() + 1) // 2))
    return cv2.seamlessClone(c, frame, k8, centre, cv2.NORMAL_CLONE)


def relit_clip(rng: np.random.Generator, frames: int = 48, size: int = 96) -> tuple[list, list, np.ndarray, list]:
    """A face track whose lighting drifts slowly, with per-frame noise.

    Returns (src_crops, ref_crops, mask, ideal): the swapped crop each frame (one face
    texture plus sensor noise), the frame's own face (the texture under a slowly
    changing gain, plus sensor noise and a random soft shadow that wanders), the face
    mask, and the noise-free ref crop each frame (what a flicker-free transfer follows).
    """
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    texture = np.stack([90 + 20 * np.sin(xx / 9), 110 + 15 * np.cos(yy / 11), 150 + 10 * np.sin((xx + yy) / 13)], -1)
    src_base = texture * np.float32(0.9) + np.float32(8)
    mask = ellipse_mask(size, soft=3.0)
    srcs, refs, ideal = [], [], []
    for t in range(frames):
        gain = np.array([1.0, 1.0 + 0.12 * np.sin(2 * np.pi * t / frames), 1.0 + 0.2 * t / frames], np.float32)
        clean = texture * gain
        cx, cy = rng.uniform(0, size, 2)
        shadow = rng.uniform(-14, 14) * np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * (size / 5) ** 2))
        noisy = clean + shadow[..., None] + rng.normal(0, 5, clean.shape)
        refs.append(np.clip(np.rint(noisy), 0, 255).astype(np.uint8))
        ideal.append(np.clip(np.rint(clean), 0, 255).astype(np.uint8))
        srcs.append(np.clip(np.rint(src_base + rng.normal(0, 3, src_base.shape)), 0, 255).astype(np.uint8))
    return srcs, refs, mask, ideal


def masked_mean_lab(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Mean CIE Lab of ``image`` weighted by ``mask``."""
    from ffaccel.ops.color_transfer import bgr_to_lab

    lab = np.asarray(bgr_to_lab(image), np.float64)
    w = mask.astype(np.float64)[..., None]
    return (lab * w).sum((0, 1)) / w.sum()


def temporal_flicker(means: list[np.ndarray]) -> float:
    """RMS of the second difference of per-frame mean Lab (Delta E units): slow drift
    has almost none, frame-to-frame jumps a lot."""
    m = np.asarray(means)
    return float(np.sqrt(np.mean(np.sum(np.diff(m, 2, axis=0) ** 2, axis=1))))


def face_mask_in_frame(frame: np.ndarray, mask: np.ndarray, m: np.ndarray) -> np.ndarray:
    """The crop mask warped into frame coordinates (float32 0..1)."""
    a = np.vstack([m, [0.0, 0.0, 1.0]])
    inv = np.linalg.inv(a)[:2]
    return np.clip(ffaccel.warp_affine(mask, inv, (frame.shape[1], frame.shape[0]), border="constant"), 0, 1)


def _box_any(b: np.ndarray, r: int) -> np.ndarray:
    """Binary dilation by a (2r+1) square (no SciPy needed)."""
    p = np.pad(b, r)
    out = np.zeros_like(b)
    for dy in range(2 * r + 1):
        for dx in range(2 * r + 1):
            out |= p[dy:dy + b.shape[0], dx:dx + b.shape[1]]
    return out


def seam_ring(face: np.ndarray, width: int = 3) -> np.ndarray:
    """Pixels within ``width`` px of the face mask's 0.5 contour (bool, frame-sized)."""
    inside = face >= 0.5
    return _box_any(inside, width) & _box_any(~inside, width)


def face_core(face: np.ndarray, width: int) -> np.ndarray:
    """Face pixels at least ``width`` px inside the contour."""
    return ~_box_any(face < 0.5, width)


def seam_energy(image: np.ndarray, ring: np.ndarray) -> float:
    """Mean squared Lab gradient over the ring (Delta E^2 per px^2, L*, a*, b* summed):
    how visible the seam is. Central differences, so a one-pixel step counts on both
    of its sides. The frame's own texture contributes too: compare with the frame."""
    from ffaccel.ops.color_transfer import bgr_to_lab

    lab = np.asarray(bgr_to_lab(image), np.float64)
    gy, gx = np.gradient(lab, axis=(0, 1))
    return float(np.mean(np.sum(gx * gx + gy * gy, -1)[ring]))


def delta_e(a: np.ndarray, b: np.ndarray, where: np.ndarray) -> float:
    """Mean CIE76 Delta E between two BGR images over ``where``."""
    from ffaccel.ops.color_transfer import bgr_to_lab

    d = np.asarray(bgr_to_lab(a), np.float64) - np.asarray(bgr_to_lab(b), np.float64)
    return float(np.mean(np.sqrt(np.sum(d * d, -1))[where]))
