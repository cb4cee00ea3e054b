"""GPU mode: device copies of a case's host arrays (cupy or torch), and results back."""

from __future__ import annotations

from typing import Any

import numpy as np

ACTIVE: str | None = None  # None: host; "cupy" or "torch": the GPU framework in use


def to_device(a: Any) -> Any:
    if not isinstance(a, np.ndarray):
        return a
    if not a.dtype.isnative:
        # cupy.asarray silently swaps a big-endian array to native order (torch refuses it):
        # the device copy would no longer be the hostile input, so the case stays host-only.
        raise TypeError(f"no GPU framework holds byte order {a.dtype.str}")
    if ACTIVE == "cupy":
        import cupy

        return cupy.asarray(np.ascontiguousarray(a))
    import torch

    return torch.from_numpy(np.ascontiguousarray(a)).cuda()


class HostOnly(Exception):
    """The case's hostile argument has no device equivalent (a read-only array)."""


def empty(shape: tuple, dtype: Any, spec: str) -> Any:
    """The device `out` for ``spec``, hostile in the same way as the host one where it can be."""
    if spec == "readonly":
        raise HostOnly(spec)
    if spec == "wrongdtype":
        return to_device(np.zeros(shape, np.float64))
    if spec == "wrongshape":
        return to_device(np.zeros((shape[0] + 1, *shape[1:]), dtype))
    if spec == "noncontig":
        return to_device(np.zeros((shape[0], shape[1] * 2, *shape[2:]), dtype))[:, ::2]
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
