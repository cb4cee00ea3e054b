"""The one extension call behind an op, without its Python checks: what the benchmarks
time as an op's "kernel call" (the pixel work on the CPU, the launch on the GPU).

Each function runs the op's checks once, then returns a zero-argument function that makes
only the extension call (overlap test, matrix rules, then the pixel work or the launches)
on the same arrays. The function holds those arrays: the call takes raw pointers, so they
must outlive it. Used by ``profile_overhead.py`` and ``bench_pool.py``.
"""

from __future__ import annotations

import importlib
from typing import Any, Callable

import numpy as np

from ffaccel import _arrays, _fast

# the modules, not ffaccel.ops.warp_affine etc., which the package binds to the functions
_warp = importlib.import_module("ffaccel.ops.warp_affine")
_paste = importlib.import_module("ffaccel.ops.paste_back")
_ins = importlib.import_module("ffaccel.ops.paste_insightface")


def warp(src: Any, m: np.ndarray, dsize: tuple[int, int], out: Any) -> Callable[[], Any]:
    """``warp_affine(src, m, dsize, out=out)``'s extension call (replicate border)."""
    spec, km, _, sp, op = _warp.check(src, m, dsize, "replicate", 0, None, out, False)
    stream = spec.stream()
    keep = (src, out)
    return lambda: spec.call(sp, op, km, stream) if keep else None


def paste(frame: Any, crop: Any, mask: Any, m: np.ndarray, out: Any) -> Callable[[], Any]:
    """``paste_back(frame, crop, mask, m, out=out)``'s extension call (alpha blend)."""
    spec, km, _, ptrs = _paste.check(frame, crop, mask, m, None, False, out, False)
    stream = spec.stream()
    keep = (frame, crop, mask, out)
    return lambda: spec.call(*ptrs, km, stream) if keep else None


def insightface(frame: Any, crop: Any, m: np.ndarray, out: Any,
                compat: str = "insightface-opencv5") -> Callable[[], Any]:
    """``paste_back_insightface(frame, crop, m, compat=compat, out=out)``'s extension call,
    with a workspace made once from the frame's allocator."""
    warp_mode, blur_mode = _ins._MODES[compat]
    spec = _ins.check(frame, crop, m, False, out)[0]
    floats = spec.call.workspace_floats(m)
    fv = _arrays.view(frame, "frame")
    ws = _ins._workspace_maker(fv.kind, fv.device)(floats)
    fp, cp, op, wp = _fast.ptr(frame), _fast.ptr(crop), _fast.ptr(out), _fast.ptr(ws)
    keep = (frame, crop, out, ws)
    return lambda: spec.call(fp, cp, op, m, warp_mode, blur_mode, wp, floats, spec.stream()) if keep else None
