"""CUDA-graph runner for torch callables, with power-of-two batch bucketing.

A :class:`CudaGraphRunner` wraps a torch callable ``fn``. The first call with a new
*shape bucket* warms ``fn`` up on a side stream, captures it into a ``torch.cuda.CUDAGraph``
over static input buffers, and keeps the graph in a bounded LRU cache. Later calls in
the same bucket copy the inputs into the static buffers and replay the graph: one launch
instead of one per kernel, which is what makes small-batch inference fast.

What is *baked into a graph* (read this before capturing your own sequences):

* Tensor arguments (top-level positional or keyword) are the only per-call data. Their
  values are copied into static buffers on every call.
* Every non-tensor argument (ints, strings, tuples, numpy arrays such as a 2x3 affine
  matrix, ...) is part of the cache key, compared *by value*. A call with a different
  value is a cache miss and captures a new graph. This is correct but costs warm-up runs
  plus a capture per distinct value, far more than a replay, so a per-face matrix passed
  this way re-captures for every face: for per-face matrices use the eager or batched path, or pass the
  per-call parameters as tensors to an fn that reads them on the device.
* Anything ``fn`` reads from elsewhere (closures, globals, attributes, the host-side
  matrix an ffaccel op turns into kernel parameters) is frozen at capture time and is
  **not** seen by the runner. Changing it later does not change what a replay computes.
* In-place writes that ``fn`` makes to a tensor argument land in the runner's static
  copy, not in the caller's tensor: use the return value.

Torch is imported lazily; importing this module does not need torch.
"""

from __future__ import annotations

import logging
import weakref
from collections import OrderedDict
from typing import Any, Callable, Hashable

import numpy as np

from ffaccel._arrays import import_torch, is_torch_tensor, iter_tensors, map_tensors
from ffaccel._checks import positive_int

__all__ = ["CudaGraphRunner", "bucket_batch_size", "live_runners"]

log = logging.getLogger("ffaccel.runtime")

_LIVE_RUNNERS: "weakref.WeakSet[CudaGraphRunner]" = weakref.WeakSet()


def live_runners() -> list["CudaGraphRunner"]:
    """Every :class:`CudaGraphRunner` still alive in this process (used by MemoryPolicy)."""
    return list(_LIVE_RUNNERS)


def bucket_batch_size(n: int, max_bucket: int = 64) -> int:
    """Smallest power of two >= ``n``, capped at ``max_bucket``.

    Args:
        n: batch size, an int >= 1.
        max_bucket: the largest bucket, an int >= 1. It need not be a power of two: with
            ``max_bucket=12`` the buckets are 1, 2, 4, 8, 12.

    Returns:
        The bucket (an int) that a batch of ``n`` is padded to.

    Raises:
        TypeError: ``n`` or ``max_bucket`` is not an int.
        ValueError: ``n < 1``, ``max_bucket < 1`` or ``n > max_bucket``.

    Example:
        >>> [bucket_batch_size(n, max_bucket=8) for n in (1, 2, 3, 5, 8)]
        [1, 2, 4, 8, 8]
    """
    n = positive_int(n, "n", minimum=1)
    max_bucket = positive_int(max_bucket, "max_bucket", minimum=1)
    if n > max_bucket:
        raise ValueError(f"n={n} exceeds max_bucket={max_bucket}; split the batch first")
    return min(1 << (n - 1).bit_length(), max_bucket)


def _freeze(value: Any, name: str) -> Hashable:
    """A hashable, by-value key for a non-tensor argument (TypeError naming ``name``)."""
    if value is None or isinstance(value, (bool, int, str, bytes)):
        return (type(value).__name__, value)
    if isinstance(value, float):
        return ("float", value.hex())  # nan == nan here, so no re-capture per call
    if isinstance(value, np.ndarray):
        if value.dtype == object:
            raise TypeError(f"argument {name!r}: numpy arrays of dtype object are not supported")
        arr = np.ascontiguousarray(value)
        return ("ndarray", arr.dtype.str, arr.shape, arr.tobytes())
    if isinstance(value, np.generic):
        return ("npscalar", value.dtype.str, value.tobytes())
    if is_torch_tensor(value):
        raise TypeError(
            f"argument {name!r} holds a torch.Tensor inside a container; pass tensors as "
            "top-level arguments so the runner can copy them into static buffers"
        )
    if isinstance(value, (list, tuple)):
        return (type(value).__name__, tuple(_freeze(v, f"{name}[{i}]") for i, v in enumerate(value)))
    if isinstance(value, dict):
        items = [(repr(k), _freeze(v, f"{name}[{k!r}]")) for k, v in value.items()]
        return ("dict", tuple(sorted(items, key=lambda kv: kv[0])))
    try:
        hash(value)
    except TypeError:
        raise TypeError(
            f"argument {name!r} of type {type(value).__name__} is not hashable; non-tensor "
            "arguments are part of the graph cache key"
        ) from None
    return ("obj", type(value).__qualname__, value)


def _describe_exc(exc: BaseException) -> str:
    """``Type: message`` of ``exc`` and of the exceptions it was raised while handling
    (ending a broken capture can raise a second error that hides the first)."""
    parts = []
    seen: set[int] = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        parts.append(f"{type(cur).__name__}: {cur}")
        cur = cur.__cause__ or cur.__context__
    return " <- ".join(parts)


class _Entry:
    """One cache slot: a captured graph, or ``graph=None`` for 'capture failed, run eager'."""

    __slots__ = ("graph", "static_inputs", "static_output", "bucket")

    def __init__(self, graph: Any, static_inputs: list[Any], static_output: Any, bucket: int | None):
        self.graph = graph
        self.static_inputs = static_inputs
        self.static_output = static_output
        self.bucket = bucket


class CudaGraphRunner:
    """Capture a torch callable once per shape bucket and replay it as a CUDA graph.

    Args:
        fn: a callable taking torch CUDA tensors (top-level positional or keyword
            arguments) plus optional non-tensor constants, returning a tensor or a
            tuple/list/dict nest of tensors. It must be capturable (no host
            synchronisation, no ``.item()``, no data-dependent shapes). It runs under
            ``torch.no_grad()``; the runner is for inference.
        max_graphs: most captured graphs kept (an int >= 1); the least recently used is
            evicted, and its memory pool goes back to torch's caching allocator.
        bucket_batch: if True, every tensor argument has the batch on axis 0 (all the
            same size ``n``); the batch is zero-padded to ``bucket_batch_size(n,
            max_bucket)`` and outputs whose axis 0 equals the bucket are sliced back to
            ``n``. ``fn`` must treat batch rows independently (eval mode). If False,
            the bucket is the exact shape of every tensor argument.
        max_bucket: the largest batch bucket (an int >= 1); larger batches raise.
        warmup_iters: eager runs on a side stream before capture (an int >= 1).
        clone_outputs: if True (default) return fresh tensors; if False return the
            static output buffers themselves (views for padded batches), which the next
            replay of the same graph overwrites.

    Shapes: with ``bucket_batch`` a call with inputs ``(n, ...)`` returns outputs
    ``(n, ...)``; dtypes and devices are those ``fn`` produces. Exactness: a replay gives
    the same bytes as ``fn`` run eagerly on the same (padded) inputs; compared with an
    eager run at the unpadded batch size, cuDNN may choose a different algorithm for the
    other shape, so float results can differ in the last bits.

    ``stats`` counts ``captures``, ``replays`` (graph launches, the first one right after
    its capture), ``evictions``, ``eager_calls`` and ``capture_failures``.

    CPU tensors run ``fn`` eagerly (no graph). When capture fails, the runner logs the
    reason once (logger ``ffaccel.runtime``, WARNING) and runs that bucket eagerly from
    then on. Not thread-safe.

    Example (captures a graph on a GPU; on the CPU the same lines run eagerly):
        >>> import torch
        >>> from ffaccel.runtime import CudaGraphRunner
        >>> device = "cuda" if torch.cuda.is_available() else "cpu"
        >>> net = torch.nn.Conv2d(3, 8, 3, padding=1).to(device).eval()
        >>> run = CudaGraphRunner(net, max_graphs=8)
        >>> y = run(torch.rand(3, 3, 128, 128, device=device))
        >>> y.shape, run.stats["captures"] == (1 if device == "cuda" else 0)
        (torch.Size([3, 8, 128, 128]), True)
    """

    #: Subclasses used in CPU tests set this False to exercise caching with fake graphs.
    _require_cuda: bool = True

    def __init__(
        self,
        fn: Callable[..., Any],
        *,
        max_graphs: int = 16,
        bucket_batch: bool = True,
        max_bucket: int = 64,
        warmup_iters: int = 2,
        clone_outputs: bool = True,
    ) -> None:
        if not callable(fn):
            raise TypeError(f"fn: expected a callable, got {type(fn).__name__}")
        self.fn = fn
        self.max_graphs = positive_int(max_graphs, "max_graphs", minimum=1)
        if not isinstance(bucket_batch, bool):
            raise TypeError(f"bucket_batch: expected a bool, got {type(bucket_batch).__name__}")
        self.bucket_batch = bucket_batch
        self.max_bucket = positive_int(max_bucket, "max_bucket", minimum=1)
        self.warmup_iters = positive_int(warmup_iters, "warmup_iters", minimum=1)
        if not isinstance(clone_outputs, bool):
            raise TypeError(f"clone_outputs: expected a bool, got {type(clone_outputs).__name__}")
        self.clone_outputs = clone_outputs
        self._cache: OrderedDict[Hashable, _Entry] = OrderedDict()
        self._warned = False
        self._warned_cpu = False
        self.stats = {"captures": 0, "replays": 0, "evictions": 0, "eager_calls": 0, "capture_failures": 0}
        _LIVE_RUNNERS.add(self)

    # ------------------------------------------------------------------ cache
    @property
    def num_graphs(self) -> int:
        """Number of cache entries (captured graphs plus buckets marked eager)."""
        return len(self._cache)

    def cached_keys(self) -> list[Hashable]:
        """Cache keys from least to most recently used."""
        return list(self._cache)

    def clear(self) -> int:
        """Drop every captured graph and static buffer; return how many entries were dropped."""
        n = len(self._cache)
        self._cache.clear()
        return n

    def _insert(self, key: Hashable, entry: _Entry) -> None:
        self._cache[key] = entry
        while len(self._cache) > self.max_graphs:
            old_key, _ = self._cache.popitem(last=False)
            self.stats["evictions"] += 1
            log.debug("CudaGraphRunner: evicted graph %r", old_key)

    # ------------------------------------------------------------------ call
    def _split(
        self, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> tuple[list[tuple[int | str, Any]], list[Hashable]]:
        tensors: list[tuple[int | str, Any]] = []
        consts: list[Hashable] = []
        slots: list[tuple[int | str, Any]] = [*enumerate(args), *sorted(kwargs.items())]
        for slot, value in slots:
            name = f"args[{slot}]" if isinstance(slot, int) else str(slot)
            if is_torch_tensor(value):
                tensors.append((slot, value))
                consts.append((slot, "tensor"))
            else:
                consts.append((slot, _freeze(value, name)))
        return tensors, consts

    def _batch_size(self, tensors: list[tuple[int | str, Any]]) -> int:
        sizes = set()
        for slot, t in tensors:
            if t.dim() == 0:
                raise ValueError(f"argument {slot!r}: bucket_batch=True needs a batch axis 0, got a 0-d tensor")
            sizes.add(int(t.shape[0]))
        if len(sizes) != 1:
            raise ValueError(
                f"bucket_batch=True needs every tensor argument to share axis 0; got sizes {sorted(sizes)}"
            )
        n = sizes.pop()
        if n < 1:
            raise ValueError("tensor arguments have an empty batch (axis 0 is 0)")
        if n > self.max_bucket:
            raise ValueError(f"batch of {n} exceeds max_bucket={self.max_bucket}; split it or raise max_bucket")
        return n

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Run ``fn(*args, **kwargs)`` through a cached CUDA graph (see the class doc)."""
        tensors, consts = self._split(args, kwargs)
        devices = {str(t.device) for _, t in tensors}
        if len(devices) > 1:
            raise ValueError(f"tensor arguments are on different devices: {sorted(devices)}")
        if not tensors or (self._require_cuda and tensors[0][1].device.type != "cuda"):
            if not self._warned_cpu:
                log.info("CudaGraphRunner: no CUDA tensor arguments; running fn eagerly")
                self._warned_cpu = True
            return self._eager(args, kwargs)
        n = self._batch_size(tensors) if self.bucket_batch else None
        bucket = bucket_batch_size(n, self.max_bucket) if n is not None else None
        shapes = []
        for slot, t in tensors:
            shape = tuple(t.shape) if bucket is None else (bucket, *t.shape[1:])
            shapes.append((slot, shape, str(t.dtype), str(t.device)))
        key = (tuple(shapes), tuple(consts))
        entry = self._cache.get(key)
        if entry is None:
            entry = self._build(key, args, kwargs, tensors, n, bucket)
            self._insert(key, entry)
            if entry.graph is None:
                return self._eager(args, kwargs)
            entry.graph.replay()  # capture only records: the static outputs are unset until now
            self.stats["replays"] += 1
            return self._finish(entry, n)
        self._cache.move_to_end(key)
        if entry.graph is None:
            return self._eager(args, kwargs)
        with import_torch().no_grad():  # inputs that require grad must not taint the buffers
            self._copy_in(entry, tensors, n)
        entry.graph.replay()
        self.stats["replays"] += 1
        return self._finish(entry, n)

    def _eager(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        self.stats["eager_calls"] += 1
        torch = import_torch()
        with torch.no_grad():
            return self.fn(*args, **kwargs)

    def _copy_in(self, entry: _Entry, tensors: list[tuple[int | str, Any]], n: int | None) -> None:
        for (_, t), static in zip(tensors, entry.static_inputs):
            if n is None or n == static.shape[0]:
                static.copy_(t)
            else:
                static[:n].copy_(t)
                static[n:].zero_()

    def _finish(self, entry: _Entry, n: int | None) -> Any:
        out = entry.static_output
        bucket = entry.bucket
        if n is not None and bucket is not None and n < bucket:
            out = map_tensors(out, lambda o: o[:n] if o.dim() >= 1 and o.shape[0] == bucket else o)
        if self.clone_outputs:
            out = map_tensors(out, lambda o: o.clone())
        return out

    def _build(
        self,
        key: Hashable,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        tensors: list[tuple[int | str, Any]],
        n: int | None,
        bucket: int | None,
    ) -> _Entry:
        torch = import_torch()
        statics = []
        for _, t in tensors:
            shape = tuple(t.shape) if bucket is None else (bucket, *t.shape[1:])
            statics.append(torch.empty(shape, dtype=t.dtype, device=t.device))
        entry = _Entry(None, statics, None, bucket)
        with torch.no_grad():
            self._copy_in(entry, tensors, n)
        s_args = list(args)
        s_kwargs = dict(kwargs)
        for (slot, _), static in zip(tensors, statics):
            if isinstance(slot, int):
                s_args[slot] = static
            else:
                s_kwargs[slot] = static
        device = tensors[0][1].device
        self._warmup(tuple(s_args), s_kwargs, device)  # errors of fn itself propagate
        try:
            graph, out = self._capture(tuple(s_args), s_kwargs, device)
        except Exception as exc:  # noqa: BLE001 - any capture failure falls back to eager
            self.stats["capture_failures"] += 1
            if not self._warned:
                log.warning(
                    "CudaGraphRunner: CUDA graph capture failed (%s); running this bucket "
                    "eagerly. Further capture failures of this runner are logged at DEBUG.",
                    _describe_exc(exc),
                )
                self._warned = True
            else:
                log.debug("CudaGraphRunner: capture failed for %r: %s", key, _describe_exc(exc))
            return _Entry(None, [], None, bucket)
        self.stats["captures"] += 1
        entry.graph = graph
        entry.static_output = out
        return entry

    def _warmup(self, s_args: tuple[Any, ...], s_kwargs: dict[str, Any], device: Any) -> None:
        """Run ``fn`` eagerly ``warmup_iters`` times on a side stream (lazy init, cuDNN
        algorithm choice, allocator warm-up), ordered after and before the current stream."""
        torch = import_torch()
        with torch.cuda.device(device):
            current = torch.cuda.current_stream()
            side = torch.cuda.Stream()
            side.wait_stream(current)
            with torch.cuda.stream(side), torch.no_grad():
                for _ in range(self.warmup_iters):
                    self.fn(*s_args, **s_kwargs)
            current.wait_stream(side)

    def _capture(self, s_args: tuple[Any, ...], s_kwargs: dict[str, Any], device: Any) -> tuple[Any, Any]:
        """Capture ``fn`` over the static buffers; return ``(graph, static_output)``."""
        torch = import_torch()
        with torch.cuda.device(device):
            graph = torch.cuda.CUDAGraph()
            with torch.no_grad(), torch.cuda.graph(graph):
                out = self.fn(*s_args, **s_kwargs)
        for t in iter_tensors(out):
            if t.device.type != "cuda":
                raise TypeError("fn: expected CUDA tensor outputs (graph outputs live on the GPU), got a CPU tensor")
        return graph, out
