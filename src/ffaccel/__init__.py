"""ffaccel: GPU and fast-CPU acceleration for face-swap pipelines.

The public API is what this module exports (``__all__``) and the rest that
docs/api-stability.md lists; that page states the rule.

Names load on first use (PEP 562): ``import ffaccel`` needs neither the compiled
extension nor numpy, so a tool such as the FaceFusion adapter can import it, find
the extension broken, and fall back with one warning instead of failing to start.

Example:
    >>> import numpy as np, ffaccel
    >>> frame = np.zeros((480, 640, 3), np.uint8)
    >>> crop = ffaccel.warp_affine(frame, np.array([[1.0, 0, -10], [0, 1.0, -20]]), (128, 128))
    >>> crop.shape, crop.dtype
    ((128, 128, 3), dtype('uint8'))
"""

from __future__ import annotations

import importlib
from typing import Any

from ffaccel._version import __version__

# The one list of the top-level public API: public name -> the module that defines it.
# It drives the lazy loader below and ``__all__``; the type stub __init__.pyi is generated
# from it (python -m tools.api_stub; tests/test_api_list.py checks that they agree).
_EXPORTS: dict[str, str] = {
    "apply_color_gain_linear": "ffaccel.ops",
    "BatchProcessor": "ffaccel.runtime",
    "boundary_blend": "ffaccel.ops",
    "box_mask": "ffaccel.ops",
    "bucket_batch_size": "ffaccel.runtime",
    "color_transfer": "ffaccel.ops",
    "ColorTransferState": "ffaccel.ops",
    "composite": "ffaccel.ops",
    "CudaError": "ffaccel._core",
    "CudaGraphRunner": "ffaccel.runtime",
    "deterministic_context": "ffaccel.runtime",
    "EndOfSequenceGuard": "ffaccel.stability",
    "estimate_color_gains": "ffaccel.ops",
    "estimate_pose": "ffaccel.stability",
    "FaceTracker": "ffaccel.stability",
    "LandmarkStabilizer": "ffaccel.stability",
    "feather_mask": "ffaccel.ops",
    "FeatherPlan": "ffaccel.ops",  # prepared calls
    "InsightfacePlan": "ffaccel.ops",  # prepared calls
    "linear_to_srgb": "ffaccel.ops",
    "mask_hysteresis": "ffaccel.ops",
    "MaskHysteresis": "ffaccel.ops",
    "MemoryPolicy": "ffaccel.runtime",
    "OneEuroFilter": "ffaccel.stability",
    "OrtCudaSession": "ffaccel.runtime",
    "OrtCudaUnavailableError": "ffaccel.runtime",
    "paste_back": "ffaccel.ops",
    "paste_back_batch": "ffaccel.ops",
    "paste_back_insightface": "ffaccel.ops",
    "PastePlan": "ffaccel.ops",  # prepared calls
    "pose_to_similarity": "ffaccel.stability",
    "PoseFilter": "ffaccel.stability",
    "prepare": "ffaccel.ops",  # prepared calls
    "QualityMonitor": "ffaccel.quality",
    "refine_heatmap_landmarks": "ffaccel.stability",
    "require_onnxruntime_gpu": "ffaccel.runtime",
    "seam_ring": "ffaccel.ops",
    "smooth_track": "ffaccel.stability",
    "srgb_to_linear": "ffaccel.ops",
    "stabilize_track": "ffaccel.stability",
    "status": "ffaccel._status",
    "TemporalSmoother": "ffaccel.stability",
    "warp_affine": "ffaccel.ops",
    "warp_affine_batch": "ffaccel.ops",
    "WarpPlan": "ffaccel.ops",  # prepared calls
}

__all__ = sorted([*_EXPORTS, "__version__"], key=str.lower)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'ffaccel' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))

