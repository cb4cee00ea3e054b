"""numpy + cv2 reference of insightface 2.1's INSwapper paste (model_zoo/inswapper.py), step by step.

The same calls as stock ``get(..., paste_back=True)`` after the model ran, minus the
``fake_diff`` image that stock computes and never uses.
"""

from __future__ import annotations

import numpy as np


def reference_paste(img: np.ndarray, bgr_fake: np.ndarray, M: np.ndarray) -> np.ndarray:
    """insightface's paste of ``bgr_fake`` (h, w, 3 uint8) into ``img`` through M (frame -> crop)."""
    import cv2

    target_img = img
    IM = cv2.invertAffineTransform(M)
    img_white = np.full((bgr_fake.shape[0], bgr_fake.shape[1]), 255, dtype=np.float32)
    size = (target_img.shape[1], target_img.shape[0])
    bgr_fake = cv2.warpAffine(bgr_fake, IM, size, borderValue=0.0)
    img_white = cv2.warpAffine(img_white, IM, size, borderValue=0.0)
    img_white[img_white > 20] = 255
    img_mask = img_white
    mask_h_inds, mask_w_inds = np.where(img_mask == 255)
    mask_h = np.max(mask_h_inds) - np.min(mask_h_inds)
    mask_w = np.max(mask_w_inds) - np.min(mask_w_inds)
    mask_size = int(np.sqrt(mask_h * mask_w))
    k = max(mask_size // 10, 10)
    kernel = np.ones((k, k), np.uint8)
    img_mask = cv2.erode(img_mask, kernel, iterations=1)
    k = max(mask_size // 20, 5)
    blur_size = (2 * k + 1, 2 * k + 1)
    img_mask = cv2.GaussianBlur(img_mask, blur_size, 0)
    img_mask /= 255
    img_mask = np.reshape(img_mask, [img_mask.shape[0], img_mask.shape[1], 1])
    fake_merged = img_mask * bgr_fake + (1 - img_mask) * target_img.astype(np.float32)
    return fake_merged.astype(np.uint8)


def face_matrix(center: tuple[float, float], size: float, angle_deg: float, crop: int = 128) -> np.ndarray:
    """A frame -> crop similarity whose crop footprint is `size` px wide, centred, rotated."""
    s = crop / size
    a = np.deg2rad(angle_deg)
    c, d = s * np.cos(a), s * np.sin(a)
    cx, cy = center
    # crop = R * (p - center) + crop / 2
    return np.array([[c, -d, crop / 2 - (c * cx - d * cy)], [d, c, crop / 2 - (d * cx + c * cy)]], np.float64)
