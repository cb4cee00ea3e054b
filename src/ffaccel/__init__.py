"""ffaccel: GPU and fast-CPU acceleration for face-swap pipelines.

The stable public API is what this module exports (``__all__``); submodules whose
names start with an underscore are private.

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
from typing import TYPE_CHECKING, Any

from ffaccel._version import __version__

# public name -> the module that defines it
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
    "feather_mask": "ffaccel.ops",
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
    "pose_to_similarity": "ffaccel.stability",
    "PoseFilter": "ffaccel.stability",
    "QualityMonitor": "ffaccel.quality",
    "refine_heatmap_landmarks": "ffaccel.stability",
    "require_onnxruntime_gpu": "ffaccel.runtime",
    "seam_ring": "ffaccel.ops",
    "smooth_track": "ffaccel.stability",
    "srgb_to_linear": "ffaccel.ops",
    "status": "ffaccel._status",
    "TemporalSmoother": "ffaccel.stability",
    "warp_affine": "ffaccel.ops",
    "warp_affine_batch": "ffaccel.ops",
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


if TYPE_CHECKING:  # static tools see the real names
    from ffaccel._core import (
        CudaError,
    )
    from ffaccel._status import (
        status,
    )
    from ffaccel.ops import (
        ColorTransferState,
        apply_color_gain_linear,
        boundary_blend,
        color_transfer,
        box_mask,
        composite,
        estimate_color_gains,
        feather_mask,
        linear_to_srgb,
        mask_hysteresis,
        MaskHysteresis,
        paste_back,
        paste_back_batch,
        paste_back_insightface,
        seam_ring,
        srgb_to_linear,
        warp_affine,
        warp_affine_batch,
    )
    from ffaccel.quality import (
        QualityMonitor,
    )
    from ffaccel.runtime import (
        BatchProcessor,
        bucket_batch_size,
        CudaGraphRunner,
        deterministic_context,
        MemoryPolicy,
        OrtCudaSession,
        OrtCudaUnavailableError,
        require_onnxruntime_gpu,
    )
    from ffaccel.stability import (
        EndOfSequenceGuard,
        estimate_pose,
        FaceTracker,
        OneEuroFilter,
        pose_to_similarity,
        PoseFilter,
        refine_heatmap_landmarks,
        smooth_track,
        TemporalSmoother,
    )
