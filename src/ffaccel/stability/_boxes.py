"""Axis-aligned box helpers shared by the stability filters."""

from __future__ import annotations

import numpy as np


def boxes_from_points(points: np.ndarray) -> np.ndarray:
    """Axis-aligned (x0, y0, x1, y1) of (N, 2) points."""
    return np.concatenate([points.min(axis=0), points.max(axis=0)])


def box_iou(a: np.ndarray, b: np.ndarray) -> float:
    """IoU of two (x0, y0, x1, y1) boxes (0 when both are empty)."""
    ix = min(a[2], b[2]) - max(a[0], b[0])
    iy = min(a[3], b[3]) - max(a[1], b[1])
    inter = max(ix, 0.0) * max(iy, 0.0)
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return float(inter / union) if union > 0 else 0.0
