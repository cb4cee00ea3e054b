"""A bound on how far a causal output may stray from the detections (a study, not a mode).

On the real MTCNN tracks the causal mode's worst frame of the fast nod is up to 2x the raw
detections' (8.6 against 4.3 % of the face width F): the filter keeps the velocity it had
when the head turns back and runs past it. This module bounds that, after the filter and
outside it, so its cost can be measured before anything like it goes into the package:

- the noise level sigma of the detections' centroid, in face widths, from the detections
  alone and causally: the median |fourth difference| of the last ``WINDOW`` valid frames,
  over 0.6745 sqrt(70) (white noise's; a smooth motion at w rad per frame enters a fourth
  difference scaled by (2 - 2 cos w)^2, so a nod is not read as noise);
- the face width: the median of the last ``WIDTH_WINDOW`` valid detections' 2 x eye distance;
- each frame's output is moved towards its detection, rigidly (all points by one shift),
  just enough that the shift between their centroids is at most k sigma sqrt(2) face widths
  (sqrt(2): the two axes' noise together). Frames before ``MIN_DIFFS`` fourth differences
  exist, and frames without a detection or an output, are left as they are.
"""

from __future__ import annotations

import numpy as np

WINDOW = 60  # fourth differences in the noise level
WIDTH_WINDOW = 30  # detections in the face width
MIN_DIFFS = 5  # fourth differences before the bound applies
_D4 = np.array([1.0, -4.0, 6.0, -4.0, 1.0])
_WHITE_D4 = 0.6745 * np.sqrt(70.0)  # median |fourth difference| of unit white noise


def bound_to_detections(output: np.ndarray, detected: np.ndarray, k: float) -> np.ndarray:
    """(T, N, 2) ``output`` with each frame's centroid kept within ``k`` noise levels of the
    detection's (rigid shift; module docstring). ``detected`` (T, N, 2) px, NaN rows missed."""
    if k <= 0:
        raise ValueError(f"k must be > 0, got {k}")
    out = np.array(output, dtype=np.float64, copy=True)
    det = np.asarray(detected, dtype=np.float64)
    widths: list[float] = []
    centres: list[np.ndarray] = []
    diffs: list[np.ndarray] = []
    for t in range(len(det)):
        if not (np.all(np.isfinite(det[t])) and np.all(np.isfinite(out[t]))):
            continue
        widths = (widths + [2.0 * float(np.linalg.norm(det[t, 1] - det[t, 0]))])[-WIDTH_WINDOW:]
        face = float(np.median(widths))
        centres = (centres + [det[t].mean(axis=0) / face])[-5:]
        if len(centres) == 5:
            diffs = (diffs + [np.abs(_D4 @ np.array(centres))])[-WINDOW:]
        if len(diffs) < MIN_DIFFS:
            continue
        limit = k * np.sqrt(2.0) * float(np.median(np.concatenate(diffs))) / _WHITE_D4
        shift = (out[t] - det[t]).mean(axis=0) / face
        norm = float(np.linalg.norm(shift))
        if norm > limit:
            out[t] -= shift * (1.0 - limit / norm) * face
    return out
