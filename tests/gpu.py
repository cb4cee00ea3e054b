"""Helpers for the CUDA tests: move arrays to a framework's GPU and back."""

from __future__ import annotations

import numpy as np
import pytest


def frameworks() -> list[str]:
    out = []
    try:
        import cupy  # noqa: F401

        out.append("cupy")
    except Exception:
        pass
    try:
        import torch

        if torch.cuda.is_available():
            out.append("torch")
    except Exception:
        pass
    return out or ["none"]


def to_gpu(x: np.ndarray, fw: str):
    if fw == "cupy":
        import cupy

        return cupy.asarray(x)
    if fw == "torch":
        import torch

        return torch.from_numpy(np.ascontiguousarray(x)).cuda()
    pytest.skip("no GPU framework")


def to_host(x) -> np.ndarray:
    if hasattr(x, "get"):
        return x.get()
    if hasattr(x, "cpu"):
        return x.cpu().numpy()
    return np.asarray(x)


def synchronize(fw: str) -> None:
    if fw == "cupy":
        import cupy

        cupy.cuda.get_current_stream().synchronize()
    else:
        import torch

        torch.cuda.synchronize()


def capture_torch_graph(step):
    """Capture ``step()`` in a torch CUDA graph, after one warm-up run on a side stream
    (torch's recipe), and return the graph, ready to ``replay()``."""
    import torch

    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        step()
    torch.cuda.current_stream().wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        step()
    return graph
