"""What GPU memory to give back between videos, and doing it.

Three levels, from keeping everything to releasing everything:

* ``normal``: nothing is released (fastest next video).
* ``moderate``: ``gc.collect()``, then the torch and cupy caches are released.
* ``strict``: CUDA graphs are dropped, ``gc.collect()``, the torch and cupy caches are
  released, and cupy's pinned host pool is released.

"Released" means the caching allocators hand their unused blocks back to the driver
(``torch.cuda.empty_cache()``, ``torch.cuda.ipc_collect()``, cupy's default memory pool
``free_all_blocks()``); memory still held by live tensors is not touched. "Dropped" means
every live :class:`~ffaccel.runtime.CudaGraphRunner` (or the ones passed in) forgets its
graphs, so their private memory pools become free and the next call re-captures.

Neither torch nor cupy is imported here: a framework that was never imported holds no
GPU memory, so it is skipped.
"""

from __future__ import annotations

import gc
import sys
from dataclasses import dataclass, field
from typing import Any, Iterable

__all__ = ["MemoryPolicy", "ReleasePlan", "ReleaseReport"]

_LEVELS = ("normal", "moderate", "strict")


@dataclass(frozen=True)
class ReleasePlan:
    """What a policy level releases between videos (all flags are bools)."""

    gc_collect: bool
    empty_caches: bool
    clear_graphs: bool
    free_pinned: bool


_PLANS = {
    "normal": ReleasePlan(gc_collect=False, empty_caches=False, clear_graphs=False, free_pinned=False),
    "moderate": ReleasePlan(gc_collect=True, empty_caches=True, clear_graphs=False, free_pinned=False),
    "strict": ReleasePlan(gc_collect=True, empty_caches=True, clear_graphs=True, free_pinned=True),
}


@dataclass
class ReleaseReport:
    """What :meth:`MemoryPolicy.release` did.

    Attributes:
        level: the policy level.
        actions: names of the steps taken, in order (e.g. ``"torch.cuda.empty_cache"``).
        graphs_dropped: cache entries dropped from CUDA-graph runners.
        torch_reserved_before / torch_reserved_after: ``torch.cuda.memory_reserved()``
            in bytes, or None when torch CUDA is not in use.
        cupy_pool_before / cupy_pool_after: cupy default pool ``total_bytes()`` in
            bytes, or None when cupy is not in use.
    """

    level: str
    actions: list[str] = field(default_factory=list)
    graphs_dropped: int = 0
    torch_reserved_before: int | None = None
    torch_reserved_after: int | None = None
    cupy_pool_before: int | None = None
    cupy_pool_after: int | None = None


def _torch_cuda() -> Any:
    """``torch.cuda`` if torch is imported and CUDA was initialised, else None."""
    torch = sys.modules.get("torch")
    if torch is None:
        return None
    try:
        if not torch.cuda.is_available() or not torch.cuda.is_initialized():
            return None
    except Exception:  # noqa: BLE001 - a broken driver means nothing to release
        return None
    return torch.cuda


def _cupy() -> Any:
    """The cupy module if it was imported, else None."""
    return sys.modules.get("cupy")


class MemoryPolicy:
    """A memory-release policy for between videos: ``"strict"``, ``"moderate"`` or ``"normal"``.

    Args:
        level: ``"normal"`` keeps every cache (fastest next video), ``"moderate"``
            returns the unused blocks of the torch and cupy caching allocators to the
            driver, ``"strict"`` also drops captured CUDA graphs and cupy's pinned host
            pool. See the module doc for the table.

    Raises:
        TypeError: ``level`` is not a str.
        ValueError: ``level`` is not one of the three names.

    Example:
        >>> from ffaccel.runtime import MemoryPolicy
        >>> policy = MemoryPolicy("moderate")
        >>> policy.plan.clear_graphs
        False
        >>> report = policy.release()   # between two videos
        >>> report.level
        'moderate'
    """

    def __init__(self, level: str = "moderate") -> None:
        if not isinstance(level, str):
            raise TypeError(f"level: expected a str, got {type(level).__name__}")
        if level not in _PLANS:
            raise ValueError(f"level: expected one of {_LEVELS}, got {level!r}")
        self.level = level

    @property
    def plan(self) -> ReleasePlan:
        """The :class:`ReleasePlan` of this level."""
        return _PLANS[self.level]

    def describe(self) -> str:
        """One line saying what :meth:`release` gives back at this level."""
        p = self.plan
        parts = []
        if p.empty_caches:
            parts.append("unused torch/cupy cache blocks")
        if p.clear_graphs:
            parts.append("captured CUDA graphs and their pools")
        if p.free_pinned:
            parts.append("cupy pinned host memory")
        return f"{self.level}: releases " + (", ".join(parts) if parts else "nothing")

    def release(self, runners: Iterable[Any] | None = None) -> ReleaseReport:
        """Release what this level says; return a :class:`ReleaseReport`.

        Args:
            runners: CUDA-graph runners whose graphs ``"strict"`` drops (objects with a
                ``clear() -> int`` method). None means every live
                :class:`~ffaccel.runtime.CudaGraphRunner`.

        Call it between videos, when no CUDA work of the caller is in flight that still
        needs the dropped graphs. Bytes reported are for the current CUDA device.
        """
        plan = self.plan
        report = ReleaseReport(level=self.level)
        tcuda = _torch_cuda()
        cupy = _cupy()
        pool = cupy.get_default_memory_pool() if cupy is not None else None
        if tcuda is not None:
            report.torch_reserved_before = int(tcuda.memory_reserved())
        if pool is not None:
            report.cupy_pool_before = int(pool.total_bytes())

        if plan.clear_graphs:
            if runners is None:
                from .graph_runner import live_runners

                runners = live_runners()
            for runner in runners:
                if not callable(getattr(runner, "clear", None)):
                    raise TypeError(f"runners: expected objects with a clear() method, got {type(runner).__name__}")
                report.graphs_dropped += int(runner.clear())
            report.actions.append("clear_graphs")
        if plan.gc_collect:
            gc.collect()
            report.actions.append("gc.collect")
        if plan.empty_caches:
            if tcuda is not None:
                tcuda.synchronize()
                tcuda.empty_cache()
                report.actions.append("torch.cuda.empty_cache")
                tcuda.ipc_collect()
                report.actions.append("torch.cuda.ipc_collect")
            if pool is not None:
                pool.free_all_blocks()
                report.actions.append("cupy.free_all_blocks")
        if plan.free_pinned and cupy is not None:
            cupy.get_default_pinned_memory_pool().free_all_blocks()
            report.actions.append("cupy.pinned.free_all_blocks")

        if tcuda is not None:
            report.torch_reserved_after = int(tcuda.memory_reserved())
        if pool is not None:
            report.cupy_pool_after = int(pool.total_bytes())
        return report
