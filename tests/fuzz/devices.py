"""GPU mode: device copies of a case's host arrays (cupy or torch), and results back."""

from __future__ import annotations

from typing import Any

import numpy as np

ACTIVE: str | None = None  # None: host; "cupy" or "torch": the GPU framework in use


def to_device(a: Any) -> Any:
    if not isinstance(a, np.ndarray):
        return a
    if ACTIVE == "cupy":
        import cupy

        return cupy.asarray(np.ascontiguousarray(a))
    import torch

    return torch.from_numpy(np.ascontiguousarray(a)).cuda()


def empty(shape: tuple, dtype: Any, spec: str) -> Any:
    """A fresh device `out` (the host-only hostile specs have no device meaning: fresh too)."""
    return to_device(np.full(shape, 7, dtype))


def to_host(x: Any) -> Any:
    if isinstance(x, tuple):
        return tuple(to_host(v) for v in x)
    if hasattr(x, "get"):
        return x.get()
    if hasattr(x, "detach"):
        return x.detach().cpu().numpy()
    return x


def synchronize() -> None:
    if ACTIVE == "cupy":
        import cupy

        cupy.cuda.get_current_stream().synchronize()
    elif ACTIVE == "torch":
        import torch

        torch.cuda.synchronize()
