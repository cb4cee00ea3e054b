"""Temporal stability for face-swap pipelines (pure Python + numpy at run time).

Causal landmark filters share one contract, so they can be swapped:
``update(points, timestamp=None) -> points`` on (N, 2) pixels and ``reset()``.

- ``TemporalSmoother``: adaptive alpha-beta EMA with scene-cut reset (default).
- ``OneEuroFilter``: the One Euro filter (Casiez et al. 2012), a baseline.
- ``smooth_track``: offline zero-lag RTS smoothing of a whole (T, N, 2) track.
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
from .subpixel import refine_heatmap_landmarks
from .tracker import FaceTracker, Track, iou_matrix

__all__ = [
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
