"""ffaccel: GPU and fast-CPU acceleration for face-swap pipelines.

The stable public API is what this module exports (``__all__``); submodules whose
names start with an underscore are private.

Example:
    >>> import numpy as np, ffaccel
    >>> frame = np.zeros((480, 640, 3), np.uint8)
    >>> crop = ffaccel.warp_affine(frame, np.array([[1.0, 0, -10], [0, 1.0, -20]]), (128, 128))
    >>> crop.shape, crop.dtype
    ((128, 128, 3), dtype('uint8'))
"""

from ffaccel._core import CudaError
from ffaccel._status import status
from ffaccel._version import __version__
from ffaccel.ops import (
    ColorTransferState,
    boundary_blend,
    color_transfer,
    paste_back,
    paste_back_batch,
    warp_affine,
    warp_affine_batch,
)
from ffaccel.stability import (
    EndOfSequenceGuard,
    FaceTracker,
    OneEuroFilter,
    PoseFilter,
    TemporalSmoother,
    estimate_pose,
    pose_to_similarity,
    refine_heatmap_landmarks,
    smooth_track,
)
from ffaccel.quality import QualityMonitor
from ffaccel.runtime import (
    BatchProcessor,
    CudaGraphRunner,
    MemoryPolicy,
    OrtCudaSession,
    OrtCudaUnavailableError,
    bucket_batch_size,
    deterministic_context,
    require_onnxruntime_gpu,
)

__all__ = [
    "BatchProcessor",
    "boundary_blend",
    "bucket_batch_size",
    "color_transfer",
    "ColorTransferState",
    "CudaError",
    "CudaGraphRunner",
    "deterministic_context",
    "EndOfSequenceGuard",
    "estimate_pose",
    "FaceTracker",
    "MemoryPolicy",
    "OneEuroFilter",
    "OrtCudaSession",
    "OrtCudaUnavailableError",
    "paste_back",
    "paste_back_batch",
    "pose_to_similarity",
    "PoseFilter",
    "QualityMonitor",
    "refine_heatmap_landmarks",
    "require_onnxruntime_gpu",
    "smooth_track",
    "status",
    "TemporalSmoother",
    "warp_affine",
    "warp_affine_batch",
    "__version__",
]
