"""The one place that understands numpy, cupy and torch arrays, devices and streams.

Every op hands its array arguments to :func:`view` and gets back an :class:`ArrayView`:
where the data is (host, or which CUDA device), its pointer, shape, strides and dtype,
and which kind of array to hand back. Nothing here synchronises or copies: CUDA
pointers are read from the framework's own attributes (cupy's ``data.ptr``, torch's
``data_ptr()``), never through a DLPack import, so every op can be captured inside a
CUDA graph. GPU work is enqueued on the framework's *current* stream for the array's
device.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any

import numpy as np

from ffaccel._core import host_ptr as _host_ptr

__all__ = ["ArrayView", "view", "empty", "current_stream", "same_memory", "overlaps"]

_TORCH_DTYPES: dict[str, np.dtype] = {
    "torch.uint8": np.dtype(np.uint8),
    "torch.float32": np.dtype(np.float32),
    "torch.float64": np.dtype(np.float64),
    "torch.int32": np.dtype(np.int32),
    "torch.int64": np.dtype(np.int64),
    "torch.float16": np.dtype(np.float16),
}


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


def _torch_module() -> Any:
    return sys.modules.get("torch")


def _cupy_module() -> Any:
    return sys.modules.get("cupy")


def _torch_dtypes(torch: Any) -> dict[Any, np.dtype]:
    global _TORCH_DTYPE_MAP
    if _TORCH_DTYPE_MAP is None:
        _TORCH_DTYPE_MAP = {getattr(torch, k.split(".")[1]): v for k, v in _TORCH_DTYPES.items()}
    return _TORCH_DTYPE_MAP


_TORCH_DTYPE_MAP: dict[Any, np.dtype] | None = None


def view(x: Any, name: str) -> ArrayView:
    """Describe ``x`` (numpy array, cupy array, or torch tensor) for an op.

    Raises:
        TypeError: ``x`` is none of the supported kinds (the message names ``name``).
    """
    if isinstance(x, np.ndarray):
        return ArrayView(x, "numpy", -1, _host_ptr(x), x.shape, x.strides, x.dtype, x.flags.c_contiguous)
    torch = _torch_module()
    if torch is not None and isinstance(x, torch.Tensor):
        dtype = _torch_dtypes(torch).get(x.dtype)
        if dtype is None:
            raise TypeError(f"{name}: torch dtype {x.dtype} is not supported")
        device = x.get_device()  # -1 on the CPU, else the CUDA ordinal
        if device < 0 and x.device.type != "cpu":
            raise TypeError(f"{name}: torch device {x.device} is not supported (cpu or cuda)")
        item = dtype.itemsize
        return ArrayView(x, "torch", device, x.data_ptr(), tuple(x.shape), tuple(s * item for s in x.stride()), dtype,
                         x.is_contiguous())
    cp = _cupy_module()
    if cp is not None and isinstance(x, cp.ndarray):
        return ArrayView(x, "cupy", x.device.id, x.data.ptr, x.shape, x.strides, x.dtype, x.flags.c_contiguous)
    raise TypeError(
        f"{name}: expected a numpy array, a cupy array or a torch tensor, got {type(x).__name__}"
    )


def empty(like: ArrayView, shape: tuple[int, ...], dtype: np.dtype) -> Any:
    """A new C-contiguous array of ``like``'s kind and device (framework allocator)."""
    if like.kind == "numpy":
        return np.empty(shape, dtype)
    if like.kind == "cupy":
        cp = _cupy_module()
        with cp.cuda.Device(like.device):
            return cp.empty(shape, dtype)
    torch = _torch_module()
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
        cp = _cupy_module()
        with cp.cuda.Device(v.device):
            return int(cp.cuda.get_current_stream().ptr)
    torch = _torch_module()
    raw = getattr(torch._C, "_cuda_getCurrentRawStream", None)  # no Stream object: ~10x cheaper
    if raw is not None:
        return int(raw(v.device))
    return int(torch.cuda.current_stream(v.device).cuda_stream)


def overlaps(a: ArrayView, b: ArrayView) -> bool:
    """True if the byte ranges of two arrays on the same device intersect."""
    if a.device != b.device or a.nbytes == 0 or b.nbytes == 0:
        return False
    return a.ptr < b.ptr + b.nbytes and b.ptr < a.ptr + a.nbytes


def same_memory(a: ArrayView, b: ArrayView) -> bool:
    return a.device == b.device and a.ptr == b.ptr
