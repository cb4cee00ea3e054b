"""Batch per-face model calls across faces and frames, with a latency bound.

:class:`BatchProcessor` collects items (face crops, or tuples such as ``(crop,
embedding)``) and runs the model once per batch of up to ``max_batch`` items, then hands
each result back with the key it was submitted under, in submission order.
"""

from __future__ import annotations

from collections import deque
from typing import Any, Callable, Hashable

import numpy as np

from ffaccel._arrays import import_torch, is_torch_tensor
from ffaccel._checks import positive_int

__all__ = ["BatchProcessor"]

Result = list[tuple[Hashable, Any]]


def _describe(x: Any) -> tuple[Any, ...]:
    """Structure signature of one item leaf: kind, shape, dtype, device."""
    if isinstance(x, np.ndarray):
        return ("numpy", x.shape, x.dtype.str, "cpu")
    if is_torch_tensor(x):
        return ("torch", tuple(x.shape), str(x.dtype), str(x.device))
    raise TypeError(f"item: expected leaves that are numpy arrays or torch tensors, got {type(x).__name__}")


def _signature(item: Any) -> tuple[Any, ...]:
    if isinstance(item, tuple):
        if not item:
            raise ValueError("item must not be an empty tuple")
        return ("tuple", tuple(_describe(x) for x in item))
    return ("single", _describe(item))


def _stack(leaves: list[Any]) -> Any:
    if isinstance(leaves[0], np.ndarray):
        return np.stack(leaves, axis=0)
    return import_torch().stack(leaves, dim=0)


def _take(out: Any, i: int, n: int, path: str = "output") -> Any:
    """Row ``i`` of every array in a model output (array, tuple/list or dict of arrays)."""
    if isinstance(out, np.ndarray) or is_torch_tensor(out):
        if out.ndim == 0 or out.shape[0] != n:
            shape = tuple(out.shape)
            raise ValueError(f"model {path}: expected the batch ({n}) on axis 0, got shape {shape}")
        return out[i]
    if isinstance(out, (tuple, list)):
        return type(out)(_take(o, i, n, f"{path}[{j}]") for j, o in enumerate(out))
    if isinstance(out, dict):
        return {k: _take(v, i, n, f"{path}[{k!r}]") for k, v in out.items()}
    raise TypeError(f"model {path}: expected an array, tensor, or a tuple/list/dict of them, got {type(out).__name__}")


class BatchProcessor:
    """Collect items, run ``model`` on stacked batches, return results in submission order.

    Args:
        model: called as ``model(batch)`` with the items stacked along a new axis 0
            (``np.stack`` / ``torch.stack``), or as ``model(*batches)`` when items are
            tuples (each tuple position stacked separately). It returns an array/tensor
            with the batch on axis 0, or a tuple/list/dict of them. Wrap it in a
            :class:`~ffaccel.runtime.CudaGraphRunner` to replay batches as CUDA graphs.
        max_batch: most items per model call (an int >= 1). A batch runs as soon as it
            is full.
        max_wait_frames: latency bound in frames (an int >= 0, or None for none). Call
            :meth:`tick` once at the end of every frame; when the oldest waiting item was
            submitted ``max_wait_frames`` ticks ago or more, the waiting items run as a
            partial batch. ``0`` batches only the faces of one frame.

    All waiting items must have the same structure, shapes, dtypes and devices; an item
    that differs raises ValueError (and is not queued). Results are row views of the
    model's batch output (``out[i]``): shape ``out.shape[1:]``, same dtype and device.

    Example:
        >>> import numpy as np
        >>> bp = BatchProcessor(lambda x: x * 2, max_batch=2, max_wait_frames=0)
        >>> bp.submit("a", np.ones(3))
        []
        >>> [(k, r.tolist()) for k, r in bp.submit("b", np.zeros(3))]
        [('a', [2.0, 2.0, 2.0]), ('b', [0.0, 0.0, 0.0])]
        >>> bp.submit("c", np.ones(3)), bp.pending
        ([], 1)
        >>> [k for k, _ in bp.tick()]
        ['c']
    """

    def __init__(self, model: Callable[..., Any], max_batch: int = 8, max_wait_frames: int | None = None) -> None:
        if not callable(model):
            raise TypeError(f"model: expected a callable, got {type(model).__name__}")
        self.model = model
        self.max_batch = positive_int(max_batch, "max_batch", minimum=1)
        self.max_wait_frames = None if max_wait_frames is None else positive_int(max_wait_frames, "max_wait_frames", minimum=0)
        self._queue: deque[tuple[Hashable, Any, int]] = deque()
        self._signature: tuple[Any, ...] | None = None
        self._frame = 0
        self.stats = {"batches": 0, "items": 0}

    @property
    def pending(self) -> int:
        """Number of submitted items not yet run."""
        return len(self._queue)

    @property
    def frame(self) -> int:
        """Frame counter: how many times :meth:`tick` was called."""
        return self._frame

    def submit(self, key: Hashable, item: Any) -> Result:
        """Queue ``item`` under ``key``; return ``(key, result)`` pairs of any batch it completed.

        Args:
            key: any value identifying the item (e.g. ``(frame_index, face_index)``).
            item: a numpy array, a torch tensor, or a tuple of them (e.g. a 3x128x128
                float32 crop and a 512 float32 embedding).
        """
        sig = _signature(item)
        if self._signature is not None and self._queue and sig != self._signature:
            raise ValueError(
                f"item for key {key!r} does not match the waiting items: got {sig}, expected {self._signature}"
            )
        self._signature = sig
        self._queue.append((key, item, self._frame))
        if len(self._queue) >= self.max_batch:
            return self._run(self.max_batch)
        return []

    def tick(self) -> Result:
        """End of a frame: advance the frame counter and enforce the latency bound.

        Returns the ``(key, result)`` pairs of the batch it ran, or ``[]``.
        """
        done: Result = []
        if self.max_wait_frames is not None and self._queue:
            oldest = self._queue[0][2]
            if self._frame - oldest >= self.max_wait_frames:
                done = self.flush()
        self._frame += 1
        return done

    def flush(self) -> Result:
        """Run everything still waiting (end of a clip); return its ``(key, result)`` pairs."""
        done: Result = []
        while self._queue:
            done.extend(self._run(min(self.max_batch, len(self._queue))))
        return done

    def _run(self, count: int) -> Result:
        batch = [self._queue[i] for i in range(count)]
        items = [b[1] for b in batch]
        if isinstance(items[0], tuple):
            stacked = [_stack([it[j] for it in items]) for j in range(len(items[0]))]
            out = self.model(*stacked)
        else:
            out = self.model(_stack(items))
        results = [(b[0], _take(out, i, count)) for i, b in enumerate(batch)]
        for _ in range(count):  # only after the model succeeded: a failure keeps the queue
            self._queue.popleft()
        self.stats["batches"] += 1
        self.stats["items"] += count
        return results
