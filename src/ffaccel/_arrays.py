"""The one place that understands numpy, cupy and torch arrays, devices and streams.

Kernel ops hand their array arguments to :func:`view` and get back an :class:`ArrayView`:
where the data is (host, or which CUDA device), its pointer, shape, strides and dtype,
and which kind of array to hand back. Nothing here synchronises or copies: CUDA
pointers are read from the framework's own attributes (cupy's ``data.ptr``, torch's
``data_ptr()``), never through a DLPack import, so every op can be captured inside a
CUDA graph. GPU work is enqueued on the framework's *current* stream for the array's
device.

Array-level code (numpy on the host, cupy on the GPU) takes its arrays through
:func:`as_xp` and :func:`device_scope`, and hands results back with :func:`like_input`.
The few framework-specific element-wise helpers (:func:`any_axis`, :func:`to_numpy`,
:func:`astype`) and the torch nesting helpers of the runtime package live here too, so
no other module switches on cupy or torch itself.

Argument *checks* (dtype, shape, writeability, overlap, scalars) live in
:mod:`ffaccel._checks`.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import numpy as np

__all__ = ["ArrayView", "view", "empty", "current_stream", "same_memory", "overlaps", "writeable", "as_xp",
           "device_scope", "like_input", "to_numpy", "any_axis", "astype", "to_host_floats", "cupy_module",
           "torch_module", "import_torch", "is_torch_tensor", "map_tensors", "iter_tensors"]

_TORCH_DTYPES: dict[str, np.dtype] = {
    "torch.uint8": np.dtype(np.uint8),
    "torch.float32": np.dtype(np.float32),
    "torch.float64": np.dtype(np.float64),
    "torch.int32": np.dtype(np.int32),
    "torch.int64": np.dtype(np.int64),
    "torch.float16": np.dtype(np.float16),
}
#: numpy dtype kinds an op can be handed at all: bool, signed, unsigned, float.
_REAL_KINDS = "biuf"
CUPY_HINT = 'GPU frames need cupy: pip install "ffaccel[cuda12]" (or "ffaccel[cuda13]"; ".[cuda12]" from a checkout)'


@dataclass(frozen=True)
class ArrayView:
    """What an op needs to know about one array argument.

    Attributes:
        obj: the caller's object, returned untouched.
        kind: ``"numpy"``, ``"cupy"`` or ``"torch"``.
        device: ``-1`` for host memory, else the CUDA device ordinal.
        ptr: address of the first element (host or device).
        shape: the array's shape.
        strides: strides in bytes.
        dtype: numpy dtype of the elements.
        c_contiguous: row-major without gaps.
    """

    obj: Any
    kind: str
    device: int
    ptr: int
    shape: tuple[int, ...]
    strides: tuple[int, ...]
    dtype: np.dtype
    c_contiguous: bool

    @property
    def nbytes(self) -> int:
        n = self.dtype.itemsize
        for s in self.shape:
            n *= s
        return n

    @property
    def on_gpu(self) -> bool:
        return self.device >= 0

    def where(self) -> str:
        return "host memory" if self.device < 0 else f"CUDA device {self.device}"


def torch_module() -> Any:
    """torch if it is already imported (never imports it), else None."""
    return sys.modules.get("torch")


def cupy_module() -> Any:
    """cupy if it is already imported (never imports it), else None."""
    return sys.modules.get("cupy")


def _torch_dtypes(torch: Any) -> dict[Any, np.dtype]:
    global _TORCH_DTYPE_MAP
    if _TORCH_DTYPE_MAP is None:
        _TORCH_DTYPE_MAP = {getattr(torch, k.split(".")[1]): v for k, v in _TORCH_DTYPES.items()}
    return _TORCH_DTYPE_MAP


_TORCH_DTYPE_MAP: dict[Any, np.dtype] | None = None


def _host_ptr(x: np.ndarray) -> int:
    """The address of a host array's data (the extension's cheap reader, bound on first use,
    so that importing this module needs no compiled extension)."""
    global _host_ptr
    from ffaccel._core import host_ptr

    _host_ptr = host_ptr
    return int(host_ptr(x))


def view(x: Any, name: str) -> ArrayView:
    """Describe ``x`` (numpy array, cupy array, or torch tensor) for an op.

    Raises:
        TypeError: ``x`` is none of the supported kinds, or holds no real numbers
            (object, string, structured, complex, non-native byte order); the message
            starts with ``name``.
    """
    if isinstance(x, np.ndarray):
        dt = x.dtype
        if dt.kind not in _REAL_KINDS or not dt.isnative or dt.fields is not None:
            raise TypeError(f"{name}: expected an array of real numbers, got dtype {dt}")
        return ArrayView(x, "numpy", -1, _host_ptr(x), x.shape, x.strides, dt, x.flags.c_contiguous)
    torch = torch_module()
    if torch is not None and isinstance(x, torch.Tensor):
        dtype = _torch_dtypes(torch).get(x.dtype)
        if dtype is None:
            raise TypeError(f"{name}: expected a tensor of a supported dtype (uint8, float32, ...), got {x.dtype}")
        device = x.get_device()  # -1 on the CPU, else the CUDA ordinal
        if device < 0 and x.device.type != "cpu":
            raise TypeError(f"{name}: expected a cpu or cuda tensor, got device {x.device}")
        item = dtype.itemsize
        return ArrayView(x, "torch", device, x.data_ptr(), tuple(x.shape), tuple(s * item for s in x.stride()), dtype,
                         x.is_contiguous())
    cp = cupy_module()
    if cp is not None and isinstance(x, cp.ndarray):
        if x.dtype.kind not in _REAL_KINDS:
            raise TypeError(f"{name}: expected an array of real numbers, got dtype {x.dtype}")
        return ArrayView(x, "cupy", x.device.id, x.data.ptr, x.shape, x.strides, x.dtype, x.flags.c_contiguous)
    raise TypeError(f"{name}: expected a numpy array, a cupy array or a torch tensor, got {type(x).__name__}")


def writeable(v: ArrayView) -> str | None:
    """None if an op may write into ``v``'s memory, else why not (for the error message)."""
    obj = v.obj
    if v.kind == "numpy":
        # WRITEABLE is False for read-only memmaps, arrays over bytes, and views of either.
        return None if obj.flags.writeable else "a read-only array"
    if v.kind == "torch" and obj.requires_grad:
        return "a tensor that requires grad (writing would bypass autograd)"
    return None


def empty(like: ArrayView, shape: tuple[int, ...], dtype: np.dtype) -> Any:
    """A new C-contiguous array of ``like``'s kind and device (framework allocator)."""
    if like.kind == "numpy":
        return np.empty(shape, dtype)
    if like.kind == "cupy":
        cp = cupy_module()
        with cp.cuda.Device(like.device):
            return cp.empty(shape, dtype)
    torch = torch_module()
    tdt = {np.dtype(np.uint8): torch.uint8, np.dtype(np.float32): torch.float32}[np.dtype(dtype)]
    dev = torch.device("cuda", like.device) if like.device >= 0 else torch.device("cpu")
    return torch.empty(shape, dtype=tdt, device=dev)


def current_stream(v: ArrayView) -> int:
    """The framework's current stream for ``v``'s device, as a ``cudaStream_t`` integer.

    0 (the legacy default stream) for host arrays. Reading it never synchronises.
    """
    if v.device < 0:
        return 0
    if v.kind == "cupy":
        cp = cupy_module()
        with cp.cuda.Device(v.device):
            return int(cp.cuda.get_current_stream().ptr)
    torch = torch_module()
    raw = getattr(torch._C, "_cuda_getCurrentRawStream", None)  # no Stream object: ~10x cheaper
    if raw is not None:
        return int(raw(v.device))
    return int(torch.cuda.current_stream(v.device).cuda_stream)


def _extent(v: ArrayView) -> tuple[int, int]:
    """[lo, hi) byte range the array's elements can touch (any strides, negative too)."""
    if v.nbytes == 0:
        return v.ptr, v.ptr
    lo = hi = v.ptr
    for n, s in zip(v.shape, v.strides):
        if s < 0:
            lo += (n - 1) * s
        else:
            hi += (n - 1) * s
    return lo, hi + v.dtype.itemsize


def overlaps(a: ArrayView, b: ArrayView) -> bool:
    """True if two arrays in the same memory space may share bytes.

    Host arrays: numpy's own bounds test (``np.may_share_memory``) for numpy pairs, byte
    ranges otherwise; CUDA arrays: their byte ranges on the same device intersect. For
    the C-contiguous arrays ops accept, a byte-range overlap means a shared byte.
    """
    if a.device != b.device or a.nbytes == 0 or b.nbytes == 0:
        return False
    if a.kind == "numpy" and b.kind == "numpy":
        return bool(np.may_share_memory(a.obj, b.obj))
    alo, ahi = _extent(a)
    blo, bhi = _extent(b)
    return alo < bhi and blo < ahi


def same_memory(a: ArrayView, b: ArrayView) -> bool:
    """Same device and same first byte."""
    return a.device == b.device and a.ptr == b.ptr


def same_array(a: ArrayView, b: ArrayView) -> bool:
    """``a`` and ``b`` are views of exactly the same elements (memory, shape, strides, dtype)."""
    return same_memory(a, b) and a.shape == b.shape and a.strides == b.strides and a.dtype == b.dtype


# --------------------------------------------------------------------------- array-level code


def import_torch() -> Any:
    """Import torch lazily; raise ImportError with an install hint when it is missing."""
    try:
        return importlib.import_module("torch")
    except ImportError as exc:  # pragma: no cover - torch is present in the test env
        raise ImportError('this feature needs PyTorch; install it with `pip install "ffaccel[torch]"` (or ".[torch]" from a checkout) '
                          "or see https://pytorch.org") from exc


def _import_cupy(name: str = "array") -> ModuleType:
    try:
        import cupy
    except ImportError as exc:  # pragma: no cover - depends on the machine
        raise TypeError(f"{name}: expected a host array (cupy is not installed for CUDA arrays), "
                        f"got a CUDA array; {CUPY_HINT}") from exc
    return cupy


def is_torch_tensor(obj: object) -> bool:
    """True if ``obj`` is a ``torch.Tensor`` (without importing torch)."""
    torch = torch_module()
    return torch is not None and isinstance(obj, torch.Tensor)


def as_xp(value: Any, name: str) -> tuple[Any, ModuleType]:
    """``(array, xp)`` where xp is numpy or cupy, matching where the data lives.

    numpy arrays pass through; torch tensors are detached first (a tensor that requires
    grad exposes no array interface), then CUDA ones become cupy views and CPU ones
    numpy views, both without a copy; other objects exposing
    ``__cuda_array_interface__`` (cupy arrays, numba, ...) become cupy views. Anything
    else raises ``TypeError`` naming ``name``, and so do arrays of non-real dtypes.
    """
    if isinstance(value, np.ndarray):
        arr, xp = value, np
    elif is_torch_tensor(value):
        tensor = value.detach()
        if tensor.is_cuda:
            cupy = _import_cupy(name)
            arr, xp = cupy.asarray(tensor), cupy
        else:
            arr, xp = tensor.numpy(), np
    elif hasattr(value, "__cuda_array_interface__"):
        cupy = _import_cupy(name)
        arr, xp = cupy.asarray(value), cupy
    else:
        raise TypeError(f"{name}: expected a numpy array, a cupy array or a torch tensor, got {type(value).__name__}")
    if arr.dtype.kind not in _REAL_KINDS or arr.dtype.fields is not None:
        raise TypeError(f"{name}: expected an array of real numbers, got dtype {arr.dtype}")
    return arr, xp


class _StreamHandle:
    """A raw ``cudaStream_t`` under the CUDA stream protocol (``__cuda_stream__``)."""

    __slots__ = ("ptr",)

    def __init__(self, ptr: int) -> None:
        self.ptr = ptr

    def __cuda_stream__(self) -> tuple[int, int]:
        return (0, self.ptr)  # protocol version 0, the handle


_cupy_streams: dict[tuple[int, int], Any] = {}


def _cupy_stream(cupy: Any, device: int, ptr: int) -> Any:
    """cupy's wrapper of the torch stream ``ptr`` on ``device``, made once per stream.

    Made once because each wrapper costs a Python object and, in cupy releases that
    deprecate ``ExternalStream``, a DeprecationWarning (a warning per call is what a
    10^5-call run would otherwise print and record). ``Stream.from_external`` (the CUDA
    stream protocol) where cupy has it, ``ExternalStream`` before that."""
    stream = _cupy_streams.get((device, ptr))
    if stream is None:
        from_external = getattr(cupy.cuda.Stream, "from_external", None)
        stream = from_external(_StreamHandle(ptr)) if from_external is not None else cupy.cuda.ExternalStream(ptr, device)
        if len(_cupy_streams) >= 256:  # streams come and go: keep the table small
            _cupy_streams.clear()
        _cupy_streams[(device, ptr)] = stream
    return stream


@contextmanager
def device_scope(value: Any) -> Iterator[None]:
    """Make cupy work run where ``value`` lives, on the stream its framework is using.

    - torch CUDA tensor: its device, and torch's current stream there (wrapped for
      cupy once, :func:`_cupy_stream`), so reading the frame is ordered after the torch work that
      wrote it, however the caller's streams are set up;
    - cupy array: its device (cupy's current stream is already the caller's);
    - anything else: nothing to do.
    """
    if is_torch_tensor(value) and value.is_cuda:
        torch = torch_module()
        cupy = _import_cupy()
        torch_stream = torch.cuda.current_stream(value.device)
        with cupy.cuda.Device(value.device.index), _cupy_stream(cupy, value.device.index, torch_stream.cuda_stream):
            yield
    elif type(value).__module__.startswith("cupy") and hasattr(value, "device"):
        with value.device:
            yield
    else:
        yield


def like_input(like: Any, arr: Any) -> Any:
    """``arr`` (numpy/cupy) as the caller's kind: torch in, torch out (zero copy).

    A cupy array goes through DLPack, not ``torch.as_tensor``: torch's reader of
    ``__cuda_array_interface__`` keeps references to the interface's values (pytorch issue
    194877), about 150 bytes of host memory a call, which the 10^5-call memory check on
    the H100 measured as +15 MiB (docs/fuzzing.md, "Memory"). The capsule is exported with
    ``__dlpack__(stream=-1)`` (no synchronisation, as DLPack defines -1), like the
    interface involving no stream: the work that wrote ``arr`` already ran on torch's
    stream (:func:`device_scope`). ``toDlpack()`` for cupy releases before ``__dlpack__``."""
    if is_torch_tensor(like):
        torch = torch_module()
        if isinstance(arr, np.ndarray):
            return torch.as_tensor(arr, device=like.device)
        capsule = arr.__dlpack__(stream=-1) if hasattr(arr, "__dlpack__") else arr.toDlpack()
        return torch.utils.dlpack.from_dlpack(capsule)
    return arr


def to_numpy(x: Any) -> np.ndarray:
    """A host numpy copy (or the array itself) of a numpy/cupy/torch array; waits for the device."""
    if isinstance(x, np.ndarray):
        return x
    if is_torch_tensor(x):
        return x.detach().cpu().numpy()
    if hasattr(x, "get"):
        return x.get()
    return np.asarray(x)


def any_axis(x: Any, axis: int) -> Any:
    """``x.any(axis)`` for numpy/cupy arrays and torch tensors alike."""
    return x.any(dim=axis) if is_torch_tensor(x) else x.any(axis=axis)


def astype(x: Any, dtype: np.dtype) -> Any:
    """``x`` converted to ``dtype`` (uint8 or float32), keeping its kind and device."""
    if is_torch_tensor(x):
        torch = torch_module()
        return x.to({np.dtype(np.uint8): torch.uint8, np.dtype(np.float32): torch.float32}[np.dtype(dtype)])
    return x.astype(dtype)


def to_host_floats(values: Any) -> list[float]:
    """Move a small 1-D array of results to the host as Python floats (one transfer)."""
    return [float(v) for v in to_numpy(values)]


def map_tensors(obj: Any, fn: Callable[[Any], Any]) -> Any:
    """Apply ``fn`` to every torch tensor in a nest of tuples/lists/dicts; keep other leaves."""
    if is_torch_tensor(obj):
        return fn(obj)
    if isinstance(obj, tuple) and hasattr(obj, "_fields"):  # namedtuple
        return type(obj)(*(map_tensors(o, fn) for o in obj))
    if isinstance(obj, (list, tuple)):
        return type(obj)(map_tensors(o, fn) for o in obj)
    if isinstance(obj, dict):
        return {k: map_tensors(v, fn) for k, v in obj.items()}
    return obj


def iter_tensors(obj: Any) -> list[Any]:
    """All torch tensors in a nest of tuples/lists/dicts, in traversal order."""
    found: list[Any] = []

    def visit(t: Any) -> Any:
        found.append(t)
        return t

    map_tensors(obj, visit)
    return found
