"""Sub-pixel landmark positions from heatmaps (2dfan4 style, N x 68 x 64 x 64).

Coordinate convention: a landmark is returned as (x, y) in heatmap pixels,
x the column and y the row, with integer values at pixel centres; (0, 0) is
the centre of the top-left heatmap pixel. To map into a crop of side S for a
heatmap of side H use ``(p + 0.5) * S / H - 0.5`` (pixel-centre convention)
or ``p * S / H`` if the pipeline treats pixel corners as integers (FaceFusion
2dfan4 multiplies the argmax by 4, the corner convention).

Methods:
    "argmax"  the peak pixel.
    "quarter" the classic quarter-pixel shift toward the higher neighbour on
              each axis (Newell et al., stacked hourglass).
    "dark"    distribution-aware refinement (Zhang et al., CVPR 2020): blur
              the heatmap with a Gaussian to restore its shape, take the log
              and do one Newton step ``-H^-1 g`` of the second-order Taylor
              expansion at the peak.
    "fhr"     a tiny CNN (3 valid 3x3 convolutions, 16-32-32 channels, then a
              linear layer) looking at the 7x7 patch around the peak,
              normalised by the peak value, plus its log; it predicts the
              offset from the peak pixel. Weights (float16, < 30 KB) ship in
              ``fhr_weights.npz``, trained by ``fhr_train.py``; inference here
              is numpy.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np

__all__ = ["refine_heatmap_landmarks", "FHR_WEIGHTS_PATH", "METHODS"]

FHR_WEIGHTS_PATH = Path(__file__).with_name("fhr_weights.npz")
METHODS = ("fhr", "dark", "quarter", "argmax")
FHR_PATCH = 7  # the CNN sees a 7x7 window: 3 valid 3x3 convolutions reduce it to 1x1
_LOG_FLOOR = 1e-3


def extract_patches(maps: np.ndarray, peaks: np.ndarray, size: int) -> np.ndarray:
    """(M, size, size) windows of (M, H, W) maps centred on (M, 2) integer (x, y); zero outside."""
    m, h, w = maps.shape
    r = size // 2
    padded = np.zeros((m, h + 2 * r, w + 2 * r), maps.dtype)
    padded[:, r : r + h, r : r + w] = maps
    offs = np.arange(size)
    rows = peaks[:, 1, None] + offs[None, :]
    cols = peaks[:, 0, None] + offs[None, :]
    return padded[np.arange(m)[:, None, None], rows[:, :, None], cols[:, None, :]]


def fhr_features(patches: np.ndarray) -> np.ndarray:
    """(M, 2, 7, 7) float32 CNN input: patch / centre value and its clipped log."""
    centre = patches[:, FHR_PATCH // 2, FHR_PATCH // 2]
    norm = patches / np.where(np.abs(centre) > 1e-12, centre, 1.0)[:, None, None]
    logp = np.log(np.clip(norm, _LOG_FLOOR, None))
    return np.stack([norm, logp], axis=1).astype(np.float32)


@lru_cache(maxsize=1)
def _fhr_weights() -> dict[str, np.ndarray]:
    with np.load(FHR_WEIGHTS_PATH) as data:
        return {k: data[k].astype(np.float32) for k in data.files}


def _conv3x3_valid(x: np.ndarray, w: np.ndarray, b: np.ndarray) -> np.ndarray:
    """x (M, H, W, C) channels-last, w (O, C, 3, 3) -> (M, H-2, W-2, O), cross-correlation as torch.

    im2col then one matmul: for 68 tiny patches this beats einsum, whose
    path search and BLAS threading cost more than the arithmetic.
    """
    m, h, wd, c = x.shape
    cols = np.concatenate([x[:, i : i + h - 2, j : j + wd - 2, :] for i in range(3) for j in range(3)], axis=3)
    # cols channel order is (tap, c); reorder the kernel to match.
    kernel = w.transpose(2, 3, 1, 0).reshape(9 * c, w.shape[0])
    return cols @ kernel + b


def fhr_offsets(features: np.ndarray) -> np.ndarray:
    """(M, 2) predicted (dx, dy) offsets from the peak pixel, numpy inference."""
    wts = _fhr_weights()
    x = np.ascontiguousarray(features.transpose(0, 2, 3, 1))
    x = np.maximum(_conv3x3_valid(x, wts["conv1.weight"], wts["conv1.bias"]), 0.0)
    x = np.maximum(_conv3x3_valid(x, wts["conv2.weight"], wts["conv2.bias"]), 0.0)
    x = np.maximum(_conv3x3_valid(x, wts["conv3.weight"], wts["conv3.bias"]), 0.0)
    x = x.reshape(len(x), -1)
    return x @ wts["head.weight"].T + wts["head.bias"]


def _gauss_kernel(sigma: float) -> np.ndarray:
    r = max(1, int(np.ceil(2 * sigma)))
    k = np.exp(-0.5 * (np.arange(-r, r + 1) / sigma) ** 2)
    return k / k.sum()


def dark_offsets(maps: np.ndarray, peaks: np.ndarray, sigma: float = 1.0) -> np.ndarray:
    """(M, 2) DARK offsets: blur, log, one Newton step at the peak."""
    k = _gauss_kernel(sigma)
    r = len(k) // 2
    size = 2 * r + 3  # enough blurred support for central differences at the peak
    patch = extract_patches(maps, peaks, size + 2 * r).astype(np.float64)
    # Separable blur; restore the original peak height as DARK does.
    taps = len(k)
    out_len = patch.shape[1] - taps + 1
    blurred = sum(k[i] * patch[:, i : i + out_len, :] for i in range(taps))  # rows (symmetric kernel)
    blurred = sum(k[i] * blurred[:, :, i : i + out_len] for i in range(taps))  # columns
    c = size // 2
    peak_val = patch[:, r + c, r + c]
    blurred *= (peak_val / np.maximum(blurred.max(axis=(1, 2)), 1e-12))[:, None, None]
    lg = np.log(np.maximum(blurred, 1e-10))
    dx = 0.5 * (lg[:, c, c + 1] - lg[:, c, c - 1])
    dy = 0.5 * (lg[:, c + 1, c] - lg[:, c - 1, c])
    dxx = lg[:, c, c + 1] - 2 * lg[:, c, c] + lg[:, c, c - 1]
    dyy = lg[:, c + 1, c] - 2 * lg[:, c, c] + lg[:, c - 1, c]
    dxy = 0.25 * (lg[:, c + 1, c + 1] - lg[:, c + 1, c - 1] - lg[:, c - 1, c + 1] + lg[:, c - 1, c - 1])
    det = dxx * dyy - dxy**2
    ok = (det > 1e-12) & (dxx < 0) & (dyy < 0)  # a proper maximum; otherwise keep the peak pixel
    safe = np.where(ok, det, 1.0)
    off_x = -(dyy * dx - dxy * dy) / safe
    off_y = -(dxx * dy - dxy * dx) / safe
    off = np.stack([off_x, off_y], axis=1) * ok[:, None]
    return np.clip(off, -1.0, 1.0)


def refine_heatmap_landmarks(
    heatmaps: np.ndarray, method: str = "fhr", *, dark_sigma: float = 1.0
) -> tuple[np.ndarray, np.ndarray]:
    """Sub-pixel landmark coordinates from landmark heatmaps.

    Args:
        heatmaps: (N, K, H, W) real array, e.g. (N, 68, 64, 64) from 2dfan4;
            H, W >= 3; finite.
        method: "fhr", "dark", "quarter" or "argmax" (see the module doc).
        dark_sigma: Gaussian blur sigma in heatmap px for "dark".

    Returns:
        ``(coords, scores)``: (N, K, 2) float64 (x, y) in heatmap pixels with
        integer values at pixel centres, and (N, K) float64 peak values.

    Example:
        >>> import numpy as np
        >>> yy, xx = np.mgrid[0:64, 0:64]
        >>> hm = np.exp(-((xx - 20.3) ** 2 + (yy - 40.6) ** 2) / 4.0)[None, None]
        >>> xy, score = refine_heatmap_landmarks(hm, "dark")
        >>> np.round(xy[0, 0], 1).tolist()
        [20.3, 40.6]
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    arr = np.asarray(heatmaps)
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)):
        raise TypeError(f"heatmaps must hold real numbers, got dtype {arr.dtype}")
    if arr.ndim != 4 or arr.shape[2] < 3 or arr.shape[3] < 3 or arr.shape[0] < 1 or arr.shape[1] < 1:
        raise ValueError(f"heatmaps must have shape (N, K, H, W) with H, W >= 3, got {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError("heatmaps must be finite (no NaN or inf)")
    n, k, h, w = arr.shape
    maps = arr.reshape(n * k, h, w).astype(np.float32, copy=False)
    flat = maps.reshape(n * k, -1).argmax(axis=1)
    py, px = np.divmod(flat, w)
    peaks = np.stack([px, py], axis=1)
    scores = maps.reshape(n * k, -1)[np.arange(n * k), flat].astype(np.float64)
    if method == "argmax":
        off = np.zeros((n * k, 2))
    elif method == "quarter":
        pad = extract_patches(maps, peaks, 3)
        off = 0.25 * np.sign(np.stack([pad[:, 1, 2] - pad[:, 1, 0], pad[:, 2, 1] - pad[:, 0, 1]], axis=1))
    elif method == "dark":
        off = dark_offsets(maps, peaks, float(dark_sigma))
    else:
        off = fhr_offsets(fhr_features(extract_patches(maps, peaks, FHR_PATCH))).astype(np.float64)
    coords = peaks.astype(np.float64) + off
    return coords.reshape(n, k, 2), scores.reshape(n, k)
