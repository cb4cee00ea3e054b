"""ffaccel.quality: prove a faster face-swap pipeline did not get worse.

Temporal PSNR between consecutive frames, jitter events, colour (mean Lab) drift and
edge sharpness (Laplacian variance), with JSON / PNG / HTML reports and the
``ffaccel quality`` command. See docs/quality.md.
"""

from ffaccel.quality.events import find_jitter_events, find_negative_outliers, finite_stats
from ffaccel.quality.metrics import (
    bgr_to_lab,
    laplacian_variance,
    mean_lab,
    mse,
    psnr,
    psnr_from_mse,
)
from ffaccel.quality.monitor import FrameSample, QualityMonitor
from ffaccel.quality.relative import delta_tpsnr, stability_verdict

__all__ = [
    "FrameSample",
    "QualityMonitor",
    "bgr_to_lab",
    "delta_tpsnr",
    "find_jitter_events",
    "find_negative_outliers",
    "finite_stats",
    "laplacian_variance",
    "mean_lab",
    "mse",
    "psnr",
    "psnr_from_mse",
    "stability_verdict",
]
