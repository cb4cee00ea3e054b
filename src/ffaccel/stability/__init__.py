"""Temporal stability for face-swap pipelines (pure Python + numpy at run time).

Causal landmark filters share one contract, so they can be swapped:
``update(points, timestamp=None) -> points`` on (N, 2) pixels and ``reset()``.

- ``stabilize_track``: the recommended stabiliser of a (T, N, 2) track: rigid
  motion and expression filtered apart, scale-free, self-tuning; modes
  "offline" (zero lag), "fixed_lag" and "causal".
- ``LandmarkStabilizer``: its streaming form (causal / fixed-lag).
- ``TemporalSmoother``: adaptive alpha-beta EMA with scene-cut reset (baseline).
- ``OneEuroFilter``: the One Euro filter (Casiez et al. 2012), a baseline.
- ``smooth_track``: per-coordinate RTS smoothing in pixels (baseline).
- ``PoseFilter`` / ``estimate_pose`` / ``pose_to_similarity``: head pose.
- ``FaceTracker``: stable ids by IoU; each track owns its filter.
- ``EndOfSequenceGuard``: steady tail of a clip of known length.
- ``refine_heatmap_landmarks``: sub-pixel landmarks from heatmaps.
"""

from .eos_guard import EndOfSequenceGuard, quantize_hysteresis
from .offline import detect_cuts, estimate_noise, smooth_track
from .one_euro import OneEuroFilter
from .pose import PoseFilter, estimate_pose, pose_to_similarity
from .smoother import TemporalSmoother
from .stabilize import stabilize_track
from .stabilizer import LandmarkStabilizer
from .subpixel import refine_heatmap_landmarks
from .tracker import FaceTracker, Track, iou_matrix

__all__ = [
    "stabilize_track",
    "LandmarkStabilizer",
    "TemporalSmoother",
    "OneEuroFilter",
    "smooth_track",
    "detect_cuts",
    "estimate_noise",
    "PoseFilter",
    "estimate_pose",
    "pose_to_similarity",
    "FaceTracker",
    "Track",
    "iou_matrix",
    "EndOfSequenceGuard",
    "quantize_hysteresis",
    "refine_heatmap_landmarks",
]
