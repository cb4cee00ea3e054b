"""Per-face image ops; each module is one op (see DESIGN.md)."""

from ffaccel.ops.paste import paste_back, paste_back_batch
from ffaccel.ops.warp import warp_affine, warp_affine_batch

__all__ = ["paste_back", "paste_back_batch", "warp_affine", "warp_affine_batch"]
