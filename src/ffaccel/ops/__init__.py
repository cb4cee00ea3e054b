"""Per-face image ops; each module is one op (see DESIGN.md)."""

from ffaccel.ops.warp import warp_affine, warp_affine_batch

__all__ = ["warp_affine", "warp_affine_batch"]
