"""Per-face image ops; each module is one op (see DESIGN.md)."""

from ffaccel.ops.color import apply_color_gain_linear, estimate_color_gains, linear_to_srgb, srgb_to_linear
from ffaccel.ops.mask import box_mask, feather_mask
from ffaccel.ops.paste import paste_back, paste_back_batch
from ffaccel.ops.warp import warp_affine, warp_affine_batch

__all__ = [
    "apply_color_gain_linear",
    "box_mask",
    "estimate_color_gains",
    "feather_mask",
    "linear_to_srgb",
    "paste_back",
    "paste_back_batch",
    "srgb_to_linear",
    "warp_affine",
    "warp_affine_batch",
]
