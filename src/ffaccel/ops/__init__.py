"""Per-face image ops; each module is one op (see docs/design.md)."""

from ffaccel.ops.boundary import boundary_blend
from ffaccel.ops.color import apply_color_gain_linear, estimate_color_gains, linear_to_srgb, srgb_to_linear
from ffaccel.ops.color_transfer import ColorTransferState, color_transfer
from ffaccel.ops.composite import composite
from ffaccel.ops.feather_mask import box_mask, feather_mask
from ffaccel.ops.hysteresis import MaskHysteresis, mask_hysteresis, seam_ring
from ffaccel.ops.paste_back import paste_back, paste_back_batch
from ffaccel.ops.paste_insightface import paste_back_insightface
from ffaccel.ops.prepared import FeatherPlan, InsightfacePlan, PastePlan, WarpPlan, prepare
from ffaccel.ops.warp_affine import warp_affine, warp_affine_batch

__all__ = [
    "ColorTransferState",
    "FeatherPlan",
    "InsightfacePlan",
    "MaskHysteresis",
    "PastePlan",
    "WarpPlan",
    "apply_color_gain_linear",
    "boundary_blend",
    "box_mask",
    "color_transfer",
    "composite",
    "estimate_color_gains",
    "feather_mask",
    "linear_to_srgb",
    "mask_hysteresis",
    "paste_back",
    "paste_back_batch",
    "paste_back_insightface",
    "prepare",
    "seam_ring",
    "srgb_to_linear",
    "warp_affine",
    "warp_affine_batch",
]
