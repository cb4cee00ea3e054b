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


def stock_paste(img: np.ndarray, bgr_fake: np.ndarray, aimg: np.ndarray, M: np.ndarray) -> np.ndarray:
    """insightface 2.1's paste block of ``INSwapper.get`` verbatim, dead ``fake_diff`` work
    included: the peer the benchmark times (tests check it against the real ``get``)."""
    import cv2

    target_img = img
    fake_diff = bgr_fake.astype(np.float32) - aimg.astype(np.float32)
    fake_diff = np.abs(fake_diff).mean(axis=2)
    fake_diff[:2, :] = 0
    fake_diff[-2:, :] = 0
    fake_diff[:, :2] = 0
    fake_diff[:, -2:] = 0
    IM = cv2.invertAffineTransform(M)
    img_white = np.full((aimg.shape[0], aimg.shape[1]), 255, dtype=np.float32)
    bgr_fake = cv2.warpAffine(bgr_fake, IM, (target_img.shape[1], target_img.shape[0]), borderValue=0.0)
    img_white = cv2.warpAffine(img_white, IM, (target_img.shape[1], target_img.shape[0]), borderValue=0.0)
    fake_diff = cv2.warpAffine(fake_diff, IM, (target_img.shape[1], target_img.shape[0]), borderValue=0.0)
    img_white[img_white > 20] = 255
    fthresh = 10
    fake_diff[fake_diff < fthresh] = 0
    fake_diff[fake_diff >= fthresh] = 255
    img_mask = img_white
    mask_h_inds, mask_w_inds = np.where(img_mask == 255)
    mask_h = np.max(mask_h_inds) - np.min(mask_h_inds)
    mask_w = np.max(mask_w_inds) - np.min(mask_w_inds)
    mask_size = int(np.sqrt(mask_h * mask_w))
    k = max(mask_size // 10, 10)
    kernel = np.ones((k, k), np.uint8)
    img_mask = cv2.erode(img_mask, kernel, iterations=1)
    kernel = np.ones((2, 2), np.uint8)
    fake_diff = cv2.dilate(fake_diff, kernel, iterations=1)
    k = max(mask_size // 20, 5)
    kernel_size = (k, k)
    blur_size = tuple(2 * i + 1 for i in kernel_size)
    img_mask = cv2.GaussianBlur(img_mask, blur_size, 0)
    k = 5
    kernel_size = (k, k)
    blur_size = tuple(2 * i + 1 for i in kernel_size)
    fake_diff = cv2.GaussianBlur(fake_diff, blur_size, 0)
    img_mask /= 255
    fake_diff /= 255
    img_mask = np.reshape(img_mask, [img_mask.shape[0], img_mask.shape[1], 1])
    fake_merged = img_mask * bgr_fake + (1 - img_mask) * target_img.astype(np.float32)
    fake_merged = fake_merged.astype(np.uint8)
    return fake_merged
