"""Per-face image ops; each module is one op (see DESIGN.md)."""

from ffaccel.ops.boundary import boundary_blend
from ffaccel.ops.color import ColorTransferState, color_transfer
from ffaccel.ops.paste import paste_back, paste_back_batch
from ffaccel.ops.warp import warp_affine, warp_affine_batch

__all__ = ["boundary_blend", "color_transfer", "ColorTransferState", "paste_back", "paste_back_batch",
           "warp_affine", "warp_affine_batch"]
