"""Array-kind handling for the quality package: numpy on the host, cupy on the GPU.

Frames may arrive as numpy arrays, cupy arrays or torch tensors. CUDA tensors are
viewed as cupy arrays through ``__cuda_array_interface__`` (zero copy), so every
reduction runs on the device that holds the frame and only scalars come back.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from types import ModuleType
from typing import Any

import numpy as np

CUPY_HINT = 'GPU frames need cupy: pip install "ffaccel[cuda12]" (or "ffaccel[cuda13]"; ".[cuda12]" from a checkout)'


def _import_cupy() -> ModuleType:
    try:
        import cupy
    except ImportError as exc:  # pragma: no cover - depends on the machine
        raise TypeError(f"got a CUDA array but cupy is not installed; {CUPY_HINT}") from exc
    return cupy


def _is_torch_tensor(value: Any) -> bool:
    return type(value).__module__.startswith("torch") and hasattr(value, "detach")


def as_array(value: Any, name: str) -> tuple[Any, ModuleType]:
    """Return ``(array, xp)`` where xp is numpy or cupy, matching where the data lives.

    numpy arrays pass through; torch tensors are detached first (a tensor that
    requires grad exposes no array interface), then CUDA ones become cupy views and
    CPU ones numpy views, both without a copy; other objects exposing
    ``__cuda_array_interface__`` (cupy arrays, numba, ...) become cupy views.
    Anything else raises ``TypeError`` naming ``name``.
    """
    if isinstance(value, np.ndarray):
        return value, np
    if _is_torch_tensor(value):
        tensor = value.detach()
        if tensor.is_cuda:
            return _import_cupy().asarray(tensor), _import_cupy()
        return tensor.numpy(), np
    if hasattr(value, "__cuda_array_interface__"):
        cupy = _import_cupy()
        return cupy.asarray(value), cupy
    raise TypeError(
        f"{name} must be a numpy array, a cupy array or a torch tensor, "
        f"got {type(value).__name__}"
    )


@contextmanager
def device_scope(value: Any) -> Iterator[None]:
    """Make cupy work run where ``value`` lives, on the stream its framework is using.

    - torch CUDA tensor: its device, and torch's current stream there (wrapped as a
      cupy ExternalStream), so reading the frame is ordered after the torch work that
      wrote it, however the caller's streams are set up;
    - cupy array: its device (cupy's current stream is already the caller's);
    - anything else: nothing to do.
    """
    if _is_torch_tensor(value) and value.is_cuda:
        import torch

        cupy = _import_cupy()
        torch_stream = torch.cuda.current_stream(value.device)
        with cupy.cuda.Device(value.device.index), cupy.cuda.ExternalStream(torch_stream.cuda_stream):
            yield
    elif type(value).__module__.startswith("cupy") and hasattr(value, "device"):
        with value.device:
            yield
    else:
        yield


def check_frame(value: Any, name: str = "frame") -> tuple[Any, ModuleType]:
    """Validate an HWC uint8 frame with 3 or 4 channels (BGR[A]); return ``(array, xp)``."""
    array, xp = as_array(value, name)
    if array.dtype != np.uint8:
        raise TypeError(f"{name} must have dtype uint8, got {array.dtype}")
    if array.ndim != 3 or array.shape[2] not in (3, 4):
        raise ValueError(f"{name} must have shape (H, W, 3) or (H, W, 4), got {tuple(array.shape)}")
    if array.shape[0] < 3 or array.shape[1] < 3:
        raise ValueError(f"{name} must be at least 3x3 pixels, got {tuple(array.shape)}")
    return array, xp


def to_host_floats(values: Any) -> list[float]:
    """Move a small 1-D array of results to the host as Python floats (one transfer)."""
    if hasattr(values, "get"):
        values = values.get()
    return [float(v) for v in np.asarray(values)]
