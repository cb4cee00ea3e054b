"""Per-face image ops; each module is one op (see DESIGN.md)."""

from ffaccel.ops.composite import composite
from ffaccel.ops.hysteresis import MaskHysteresis, mask_hysteresis, seam_ring
from ffaccel.ops.paste import paste_back, paste_back_batch
from ffaccel.ops.warp import warp_affine, warp_affine_batch

__all__ = [
    "MaskHysteresis",
    "composite",
    "mask_hysteresis",
    "paste_back",
    "paste_back_batch",
    "seam_ring",
    "warp_affine",
    "warp_affine_batch",
]
