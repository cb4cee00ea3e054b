"""The hot path of the kernel ops: checks done once per argument signature, then reused.

An op's full checks (:mod:`ffaccel._checks`) look at each array's kind, shape, strides,
dtype, device and writeability, and at the op's scalar arguments. None of that changes
between two calls that pass arrays of the same :func:`signature` and equal scalars, so
after one call passes every check, the op keeps what the checks worked out (a *spec*:
image geometry, kernel mode, stream reader, allocator) under that key, and the next call
with the same key only re-reads what can change cheaply:

- the arrays' data pointers (numpy: the extension's ``host_ptr``; torch: ``data_ptr()``;
  cupy: ``data.ptr``), and whether the output's bytes overlap an input's;
- the affine matrices: shape, finiteness and invertibility, every call.

The pointers, the matrices and the stream go to the extension in one call (a
``_core.WarpCall`` or ``_core.PasteCall`` built from the checks' results), which tests
the overlap, checks and inverts the matrices (kernels/include/ffaccel/affine.h) and
launches, or returns a status saying why not, with nothing written.

A call whose key is new, or whose pointers overlap, or whose matrix fails a check, runs
the full checks instead, so a bad argument raises exactly the error the full path gives,
before anything is written. Nothing here synchronises or allocates device memory, so the
hot path stays CUDA-graph capturable. Prepared calls (:mod:`ffaccel.ops.prepared`) use
the same specs without the dictionary lookup.
"""

from __future__ import annotations

import atexit
import functools
import sys
from typing import Any

import numpy as np

from ffaccel._checks import real_array

__all__ = ["signature", "out_signature", "ptr", "stream_reader", "allocator", "sized_allocator", "lookup", "remember",
           "host_matrix", "result_and_pointers", "launched", "apart", "cache_clear"]

F64 = np.dtype(np.float64)
CACHE: dict[Any, Any] = {}
CACHE_MAX = 256  # keys; the cache is emptied when full (a pipeline uses a handful)


def signature(x: Any) -> tuple | None:
    """Everything the checks read from an *input* array except its pointer, hashable;
    None if ``x`` is not a numpy array, torch tensor or cupy array.

    numpy: (type, shape, strides, dtype); torch: (type, shape, strides, dtype, device);
    cupy: (type, shape, strides, dtype, device id).
    """
    if isinstance(x, np.ndarray):
        return (type(x), x.shape, x.strides, x.dtype)
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(x, torch.Tensor):
        return (type(x), x.shape, x.stride(), x.dtype, x.device)
    cp = sys.modules.get("cupy")
    if cp is not None and isinstance(x, cp.ndarray):
        return (type(x), x.shape, x.strides, x.dtype, x.device.id)
    return None


def out_signature(x: Any) -> tuple | None:
    """:func:`signature` of an array the op writes, with what decides whether it may be
    written: numpy's WRITEABLE flag, torch's ``requires_grad`` (cupy arrays always may)."""
    if isinstance(x, np.ndarray):
        return (type(x), x.shape, x.strides, x.dtype, x.flags.writeable)
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(x, torch.Tensor):
        return (type(x), x.shape, x.stride(), x.dtype, x.device, x.requires_grad)
    return signature(x)


def _host_ptr(x: np.ndarray) -> int:
    """The extension's cheap address reader, bound on first use (importing this module
    needs no compiled extension)."""
    global _host_ptr
    from ffaccel._core import host_ptr

    _host_ptr = host_ptr
    return int(host_ptr(x))


def ptr(x: Any) -> int:
    """The address of the first element (host or device); never synchronises."""
    if isinstance(x, np.ndarray):
        return _host_ptr(x)
    if hasattr(x, "data_ptr"):
        return x.data_ptr()
    return x.data.ptr


def _zero() -> int:
    return 0


def _cupy_stream(device: int) -> int:
    cp = sys.modules["cupy"]
    with cp.cuda.Device(device):
        return int(cp.cuda.get_current_stream().ptr)


def _torch_stream(device: int) -> int:
    return int(sys.modules["torch"].cuda.current_stream(device).cuda_stream)


def stream_reader(kind: str, device: int) -> Any:
    """A zero-argument function returning the framework's current stream on ``device``
    (0 for host memory): torch's raw-stream getter where it exists (no Stream object is
    built), else the public API; cupy's current stream."""
    if device < 0:
        return _zero
    if kind == "cupy":
        return functools.partial(_cupy_stream, device)
    raw = getattr(sys.modules["torch"]._C, "_cuda_getCurrentRawStream", None)
    if raw is not None:
        return functools.partial(raw, device)
    return functools.partial(_torch_stream, device)


def _new_cupy(device: int, dtype: np.dtype, shape: tuple[int, ...]) -> Any:
    cp = sys.modules["cupy"]
    with cp.cuda.Device(device):
        return cp.empty(shape, dtype)


def sized_allocator(kind: str, device: int, dtype: np.dtype) -> Any:
    """A one-argument function ``shape -> new C-contiguous array`` of ``kind`` on ``device``,
    as ``_arrays.empty`` makes it (it holds no reference to any array)."""
    if kind == "numpy":
        return functools.partial(np.empty, dtype=np.dtype(dtype))
    if kind == "cupy":
        return functools.partial(_new_cupy, device, np.dtype(dtype))
    torch = sys.modules["torch"]
    tdt = {np.dtype(np.uint8): torch.uint8, np.dtype(np.float32): torch.float32}[np.dtype(dtype)]
    dev = torch.device("cuda", device) if device >= 0 else torch.device("cpu")
    return functools.partial(torch.empty, dtype=tdt, device=dev)


def allocator(kind: str, device: int, shape: tuple[int, ...], dtype: np.dtype) -> Any:
    """A zero-argument function making a new C-contiguous result as ``_arrays.empty`` does
    (it holds no reference to any array)."""
    if kind == "numpy":
        return functools.partial(np.empty, shape, dtype)
    return functools.partial(sized_allocator(kind, device, dtype), shape)


def lookup(key: Any) -> Any:
    """The spec stored under ``key`` (None if none or if ``key`` is None); keys are built
    from signatures and scalars of exact built-in types, so they always hash."""
    return None if key is None else CACHE.get(key)


def remember(key: Any, spec: Any) -> None:
    if key is None:
        return
    try:
        if len(CACHE) >= CACHE_MAX:
            CACHE.clear()
        CACHE[key] = spec
    except TypeError:  # an unhashable scalar slipped into the key: just don't cache
        pass


def cache_clear() -> None:
    """Forget every stored spec (tests use it to force the full path)."""
    CACHE.clear()


def _at_exit() -> None:
    """Drop the stored specs, then collect cycles. With FFACCEL_DEBUG_LEAKS=1 in the environment,
    print to stderr every container that still refers to an extension (``_core``) object
    afterwards, grouped by holder (docs/fuzzing.md: the GPU fuzz's child processes still get
    nanobind's leaked-instances report at exit, and this names the holders)."""
    import gc
    import os

    cache_clear()
    gc.collect()
    if os.environ.get("FFACCEL_DEBUG_LEAKS") != "1":
        return
    from collections import Counter

    import threading

    on_stack = set()  # frames still on some thread's stack (such a frame is held by the thread state)
    for f in sys._current_frames().values():
        while f is not None:
            on_stack.add(id(f))
            f = f.f_back
    # nanobind instances are not tracked by the collector, so they are found as referents of
    # the tracked containers that hold them.
    held: Counter[str] = Counter()
    me = sys._getframe()
    for c in gc.get_objects():
        if c is me:
            continue
        for r in gc.get_referents(c):
            if isinstance(r, type):  # the extension's classes themselves are not instances
                continue
            mod = getattr(type(r), "__module__", None)  # not always a string (a getset on some metatypes)
            if isinstance(mod, str) and mod.rpartition(".")[2] == "_core":
                held[f"{type(r).__name__} held by {_describe_holder(c, on_stack)}"] += 1
    sys.stderr.write(f"ffaccel: {sum(held.values())} references to extension objects after the exit handler; "
                     f"threads alive: {[t.name for t in threading.enumerate()]}\n")
    for what, n in held.most_common(25):
        sys.stderr.write(f"  {n:5d} x {what}\n")
    # Each of the first specs still alive: its holders, and theirs (two levels).
    specs = [o for o in gc.get_objects() if type(o).__name__.endswith("Spec") and type(o).__module__.startswith("ffaccel")]
    skip = {id(specs), id(me)}
    for o in specs[:3]:
        for r in gc.get_referrers(o):
            if id(r) in skip:
                continue
            ups = [_describe_holder(u, on_stack) for u in gc.get_referrers(r)
                   if id(u) not in skip and u is not specs][:3]
            sys.stderr.write(f"  {type(o).__name__} <- {_describe_holder(r, on_stack)} <- {' | '.join(ups)}\n")


def _describe_holder(c: Any, on_stack: set[int]) -> str:
    """One line saying what ``c`` is; ``on_stack``: ids of the frames on a live thread's stack."""
    import gc

    what = type(c).__module__ + "." + type(c).__qualname__
    if isinstance(c, dict):
        owners = [type(o).__qualname__ + (f" {o.__name__}" if hasattr(o, "__name__") else "")
                  for o in gc.get_referrers(c)[:3] if not isinstance(o, list)]
        return f"{what} (keys {', '.join(map(str, list(c)[:4]))}; in {', '.join(owners)})"
    if hasattr(c, "f_code"):
        # a frame: where it stopped, its callers and its reference count (a frame that no
        # tracked object holds is kept by C code, or is still on a thread's stack)
        callers, f = [], c.f_back
        while f is not None and len(callers) < 4:
            callers.append(f"{f.f_code.co_name}:{f.f_lineno}")
            f = f.f_back
        return (f"{what} {c.f_code.co_name} {c.f_code.co_filename}:{c.f_lineno} refcount {sys.getrefcount(c) - 1}"
                f" on a thread's stack {id(c) in on_stack} callers [{', '.join(callers)}]"
                f" held by [{', '.join(type(h).__name__ for h in gc.get_referrers(c)[:4])}]")
    if hasattr(c, "__qualname__"):
        return f"{what} {c.__qualname__}"
    if isinstance(c, (list, tuple)):
        outer = [type(o).__module__ + "." + type(o).__qualname__ for o in gc.get_referrers(c)[:3]]
        return f"{what} of {len(c)} (in {', '.join(outer)})"
    return what


# The stored specs hold extension objects (_core.Image, WarpCall, PasteCall). Dropped at
# interpreter exit, before module teardown: otherwise, when a framework's module outlives
# this one's dict (seen with cupy on the H100), they outlive the extension and nanobind
# reports them as leaked instances.
atexit.register(_at_exit)


def result_and_pointers(frame: Any, out: Any, inplace: bool, alloc: Any) -> tuple[Any, int, int]:
    """(result, its pointer, the frame's pointer) of a call that writes ``frame`` itself
    (``inplace``), ``out``, or a new array from ``alloc()`` when ``out`` is None."""
    fp = ptr(frame)
    if inplace:
        return frame, fp, fp
    result = alloc() if out is None else out
    return result, ptr(result), fp


def host_matrix(matrix: Any) -> np.ndarray | None:
    """``matrix`` as float64 by the full checks' own reader (lists, other real dtypes, host
    tensors), or None where that reader refuses it (the caller then runs the full checks).
    Shape, finiteness and invertibility are checked by the extension's prepared call."""
    try:
        return real_array(matrix, "matrix")
    except (TypeError, ValueError):
        return None


def launched(status: int) -> None:
    """Raise where a prepared call (``_core.WarpCall``/``PasteCall``) refused arguments that
    the full checks had passed: a disagreement between the two, never the caller's error."""
    if status:
        raise RuntimeError(f"ffaccel: the kernel refused arguments its checks passed (status {status}); "
                           "please report this as a bug")


def apart(p: int, n: int, q: int, m: int) -> bool:
    """Byte ranges [p, p + n) and [q, q + m) share no byte (both arrays C-contiguous)."""
    return p + n <= q or q + m <= p
