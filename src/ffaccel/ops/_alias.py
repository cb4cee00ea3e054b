"""The ``out=`` check for element-wise ops that may write over one of their inputs.

A per-pixel op that reads a pixel's inputs before writing that pixel can safely take
``out`` equal to an input (the same buffer, shape, strides and dtype). A partial
overlap would let one pixel's write change another pixel's input, so it is refused.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ffaccel import _arrays
from ffaccel._arrays import ArrayView


def is_same_array(a: ArrayView, b: ArrayView) -> bool:
    return _arrays.same_memory(a, b) and a.shape == b.shape and a.strides == b.strides and a.dtype == b.dtype


def output(out: Any, like: ArrayView, inputs: Sequence[tuple[str, ArrayView]], shape: tuple[int, ...],
           dtype: np.dtype, name: str = "out") -> tuple[Any, ArrayView]:
    """``out`` checked against the expected result (it may *be* one of ``inputs``), or a new array."""
    if out is None:
        obj = _arrays.empty(like, shape, dtype)
        return obj, _arrays.view(obj, name)
    v = _arrays.view(out, name)
    if v.kind != like.kind or v.device != like.device:
        raise ValueError(f"{name}: must be a {like.kind} array in {like.where()} like the input, "
                         f"got a {v.kind} array in {v.where()}")
    if v.shape != shape:
        raise ValueError(f"{name}: expected shape {shape}, got {v.shape}")
    if v.dtype != dtype:
        raise TypeError(f"{name}: expected dtype {dtype}, got {v.dtype}")
    if not v.c_contiguous:
        raise ValueError(f"{name}: must be C-contiguous")
    for input_name, iv in inputs:
        if _arrays.overlaps(v, iv) and not is_same_array(v, iv):
            raise ValueError(f"{name}: overlaps {input_name} without being {input_name} itself")
    return out, v
