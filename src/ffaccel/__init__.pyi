# Generated from _EXPORTS in __init__.py by `python -m tools.api_stub`: do not edit by hand.
# The type stub of `import ffaccel` (the names load lazily at run time; static tools read this).

from ffaccel._core import (
    CudaError as CudaError,
)
from ffaccel._status import (
    status as status,
)
from ffaccel.ops import (
    apply_color_gain_linear as apply_color_gain_linear,
    boundary_blend as boundary_blend,
    box_mask as box_mask,
    color_transfer as color_transfer,
    ColorTransferState as ColorTransferState,
    composite as composite,
    estimate_color_gains as estimate_color_gains,
    feather_mask as feather_mask,
    linear_to_srgb as linear_to_srgb,
    mask_hysteresis as mask_hysteresis,
    MaskHysteresis as MaskHysteresis,
    paste_back as paste_back,
    paste_back_batch as paste_back_batch,
    seam_ring as seam_ring,
    srgb_to_linear as srgb_to_linear,
    warp_affine as warp_affine,
    warp_affine_batch as warp_affine_batch,
)
from ffaccel.quality import (
    QualityMonitor as QualityMonitor,
)
from ffaccel.runtime import (
    BatchProcessor as BatchProcessor,
    bucket_batch_size as bucket_batch_size,
    CudaGraphRunner as CudaGraphRunner,
    deterministic_context as deterministic_context,
    MemoryPolicy as MemoryPolicy,
    OrtCudaSession as OrtCudaSession,
    OrtCudaUnavailableError as OrtCudaUnavailableError,
    require_onnxruntime_gpu as require_onnxruntime_gpu,
)
from ffaccel.stability import (
    EndOfSequenceGuard as EndOfSequenceGuard,
    estimate_pose as estimate_pose,
    FaceTracker as FaceTracker,
    OneEuroFilter as OneEuroFilter,
    pose_to_similarity as pose_to_similarity,
    PoseFilter as PoseFilter,
    refine_heatmap_landmarks as refine_heatmap_landmarks,
    smooth_track as smooth_track,
    TemporalSmoother as TemporalSmoother,
)

__version__: str
__all__: list[str] = [
    "__version__",
    "apply_color_gain_linear",
    "BatchProcessor",
    "boundary_blend",
    "box_mask",
    "bucket_batch_size",
    "color_transfer",
    "ColorTransferState",
    "composite",
    "CudaError",
    "CudaGraphRunner",
    "deterministic_context",
    "EndOfSequenceGuard",
    "estimate_color_gains",
    "estimate_pose",
    "FaceTracker",
    "feather_mask",
    "linear_to_srgb",
    "mask_hysteresis",
    "MaskHysteresis",
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
    "seam_ring",
    "smooth_track",
    "srgb_to_linear",
    "status",
    "TemporalSmoother",
    "warp_affine",
    "warp_affine_batch",
]
