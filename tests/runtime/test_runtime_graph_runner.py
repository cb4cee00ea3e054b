"""CPU tests of CudaGraphRunner's logic: bucketing, keys, padding, LRU, fallback.

The graph itself is replaced by a fake that re-runs ``fn`` on the static buffers and
copies into the static outputs, which is exactly the contract a CUDA graph replay has.
The real graphs are tested in test_runtime_cuda.py.
"""

from __future__ import annotations

import logging

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

torch = pytest.importorskip("torch")

from ffaccel.runtime import CudaGraphRunner, bucket_batch_size  # noqa: E402
from ffaccel._arrays import iter_tensors  # noqa: E402


class _FakeGraph:
    def __init__(self, fn, args, kwargs, out):
        self.fn, self.args, self.kwargs, self.out = fn, args, kwargs, out
        self.replays = 0

    def replay(self):
        new = self.fn(*self.args, **self.kwargs)
        for dst, src in zip(iter_tensors(self.out), iter_tensors(new)):
            dst.copy_(src)
        self.replays += 1


class CpuRunner(CudaGraphRunner):
    """Runs the runner's real bookkeeping on CPU tensors with fake graphs."""

    _require_cuda = False

    def __init__(self, fn, fail=False, **kw):
        super().__init__(fn, **kw)
        self.fail = fail
        self.graphs: list[_FakeGraph] = []
        self.warmups = 0

    def _warmup(self, s_args, s_kwargs, device):
        self.warmups += 1
        with torch.no_grad():
            self.fn(*s_args, **s_kwargs)

    def _capture(self, s_args, s_kwargs, device):
        if self.fail:
            raise RuntimeError("operation not permitted when stream is capturing")
        out = self.fn(*s_args, **s_kwargs)
        # like a real capture, nothing has run yet: the static outputs hold garbage
        for o in iter_tensors(out):
            o.fill_(float("nan") if o.is_floating_point() else -123)
        g = _FakeGraph(self.fn, s_args, s_kwargs, out)
        self.graphs.append(g)
        return g, out


# ---------------------------------------------------------------- bucket_batch_size
def test_bucket_table():
    assert [bucket_batch_size(n, max_bucket=16) for n in range(1, 17)] == [
        1, 2, 4, 4, 8, 8, 8, 8, 16, 16, 16, 16, 16, 16, 16, 16,
    ]
    assert [bucket_batch_size(n, max_bucket=12) for n in (7, 8, 9, 12)] == [8, 8, 12, 12]


@given(st.integers(1, 4096), st.integers(1, 4096))
def test_bucket_property(n, max_bucket):
    if n > max_bucket:
        with pytest.raises(ValueError, match="max_bucket"):
            bucket_batch_size(n, max_bucket)
        return
    b = bucket_batch_size(n, max_bucket)
    assert n <= b <= max_bucket
    assert b == max_bucket or (b & (b - 1) == 0 and b < 2 * n)


@pytest.mark.parametrize(
    "args, exc, name",
    [((0,), ValueError, "n"), ((1.5,), TypeError, "n"), ((True,), TypeError, "n"),
     (("3",), TypeError, "n"), ((1, 0), ValueError, "max_bucket"), ((1, 2.0), TypeError, "max_bucket")],
)
def test_bucket_bad_input(args, exc, name):
    with pytest.raises(exc, match=rf"^{name}"):
        bucket_batch_size(*args)


def test_bucket_accepts_numpy_int():
    assert bucket_batch_size(np.int64(5), max_bucket=np.int32(8)) == 8


# ---------------------------------------------------------------- constructor
@pytest.mark.parametrize(
    "kwargs, exc, name",
    [({"max_graphs": 0}, ValueError, "max_graphs"), ({"max_graphs": "2"}, TypeError, "max_graphs"),
     ({"bucket_batch": 1}, TypeError, "bucket_batch"), ({"max_bucket": 0}, ValueError, "max_bucket"),
     ({"warmup_iters": 0}, ValueError, "warmup_iters"), ({"clone_outputs": None}, TypeError, "clone_outputs")],
)
def test_runner_bad_arguments(kwargs, exc, name):
    with pytest.raises(exc, match=name):
        CudaGraphRunner(lambda x: x, **kwargs)


def test_runner_fn_not_callable():
    with pytest.raises(TypeError, match="fn"):
        CudaGraphRunner(42)  # type: ignore[arg-type]


# ---------------------------------------------------------------- bucketing, padding
def _net(x, emb):
    return x * 2 + emb[:, :, None]


def test_outputs_and_buckets():
    r = CpuRunner(_net, max_bucket=8)
    for n in (1, 2, 3, 4, 5, 8, 3, 1):
        x = torch.randn(n, 3, 5)
        e = torch.randn(n, 3)
        y = r(x, e)
        assert y.shape == (n, 3, 5)
        assert torch.equal(y, _net(x, e))
    assert r.stats["captures"] == 4  # buckets 1, 2, 4, 8
    assert r.stats["replays"] == 8  # every call launched a graph (the first right after capture)
    assert r.stats["eager_calls"] == 0
    assert sorted(k[0][0][1][0] for k in r.cached_keys()) == [1, 2, 4, 8]


def test_padding_rows_are_zeroed():
    # a batch-coupled fn exposes what is in the padding rows
    r = CpuRunner(lambda x: x.sum(0, keepdim=True), max_bucket=4)
    r(torch.full((4, 2), 7.0))
    y = r(torch.ones(3, 2))  # bucket 4, row 3 must not hold the old 7s
    assert torch.equal(y, torch.full((1, 2), 3.0))


def test_batch_over_max_bucket_and_mismatch():
    r = CpuRunner(_net, max_bucket=4)
    with pytest.raises(ValueError, match="max_bucket"):
        r(torch.zeros(5, 3, 5), torch.zeros(5, 3))
    with pytest.raises(ValueError, match="axis 0"):
        r(torch.zeros(2, 3, 5), torch.zeros(3, 3))
    with pytest.raises(ValueError, match="0-d"):
        r(torch.tensor(1.0), torch.zeros(1, 3))


def test_unbatched_keys_are_exact_shapes():
    r = CpuRunner(lambda a, b: a + b.sum(), bucket_batch=False)
    r(torch.zeros(3, 4), torch.tensor(2.0))
    r(torch.zeros(3, 4), torch.tensor(5.0))
    y = r(torch.zeros(5, 4), torch.tensor(1.0))
    assert r.stats["captures"] == 2 and r.stats["replays"] == 3
    assert torch.equal(y, torch.ones(5, 4))


def test_kwargs_and_nested_outputs():
    def fn(x, *, scale):
        return {"a": x * scale, "b": (x.sum(0, keepdim=True), x + 1)}

    r = CpuRunner(fn, max_bucket=8)
    x = torch.arange(6.0).reshape(3, 2)
    out = r(x, scale=torch.full((3, 2), 2.0))
    assert torch.equal(out["a"], x * 2)
    assert out["b"][0].shape == (1, 2)  # axis 0 != bucket: not sliced
    assert torch.equal(out["b"][1], x + 1)


def test_clone_outputs_flag():
    r = CpuRunner(lambda x: x + 1, clone_outputs=False)
    y1 = r(torch.zeros(2, 2))
    r(torch.ones(2, 2))
    assert torch.equal(y1, torch.full((2, 2), 2.0))  # aliased static output was overwritten
    r2 = CpuRunner(lambda x: x + 1, clone_outputs=True)
    z1 = r2(torch.zeros(2, 2))
    r2(torch.ones(2, 2))
    assert torch.equal(z1, torch.ones(2, 2))


# ---------------------------------------------------------------- non-tensor constants
def test_constants_are_keys_by_value():
    def fn(x, matrix, mode="a"):
        return x * float(matrix[0, 0]) + (1 if mode == "a" else 2)

    r = CpuRunner(fn)
    m1 = np.array([[2.0, 0, 0], [0, 2.0, 0]])
    x = torch.ones(1, 4)
    assert torch.equal(r(x, m1), torch.full((1, 4), 3.0))
    assert torch.equal(r(x, m1.copy()), torch.full((1, 4), 3.0))  # equal value: replay
    assert r.stats["captures"] == 1 and r.stats["replays"] == 2
    m2 = m1 * 1.5
    assert torch.equal(r(x, m2), torch.full((1, 4), 4.0))  # new value: new capture
    assert torch.equal(r(x, m2, mode="b"), torch.full((1, 4), 5.0))
    assert r.stats["captures"] == 3
    r(x, m1, mode=float("nan"))
    r(x, m1, mode=float("nan"))  # nan constant still hits the cache
    assert r.stats["captures"] == 4


def test_closure_values_are_not_in_the_key():
    """What the docs warn about: values fn reads from outside are not in the key (the
    device test shows that a real replay then uses the capture-time value)."""
    holder = {"scale": 2.0}
    r = CpuRunner(lambda x: x * holder["scale"])
    r(torch.ones(1, 2))
    holder["scale"] = 10.0
    # a real graph bakes the constant in at capture; the fake re-runs fn, so we can only
    # check the cache side of the contract here: the key did not change, no re-capture
    r(torch.ones(1, 2))
    assert r.stats["captures"] == 1 and r.stats["replays"] == 2


@pytest.mark.parametrize("bad, name", [({1, 2}, r"'args\[1\]' of type set"), ([torch.zeros(1)], r"args\[1\]\[0\]")])
def test_bad_constants(bad, name):
    r = CpuRunner(lambda x, c: x)
    with pytest.raises(TypeError, match=name):
        r(torch.zeros(1, 1), bad)


def test_mixed_devices_rejected():
    r = CpuRunner(lambda a, b: a)
    with pytest.raises(ValueError, match="different devices"):
        r(torch.zeros(1, 1), torch.zeros(1, 1, device="meta"))


# ---------------------------------------------------------------- LRU cache
def test_lru_eviction_order():
    r = CpuRunner(lambda x: x * 3, max_graphs=2, bucket_batch=False)
    a, b, c = torch.ones(1), torch.ones(2), torch.ones(3)
    r(a)
    r(b)
    r(a)  # a is now most recent
    r(c)  # evicts b
    assert r.stats["evictions"] == 1 and r.num_graphs == 2
    assert [k[0][0][1] for k in r.cached_keys()] == [(1,), (3,)]
    r(b)  # re-captured, evicts a
    assert r.stats["captures"] == 4 and r.stats["evictions"] == 2
    assert [k[0][0][1] for k in r.cached_keys()] == [(3,), (2,)]
    assert torch.equal(r(c), c * 3)
    assert r.clear() == 2 and r.num_graphs == 0


# ---------------------------------------------------------------- fallback, eager
def test_capture_failure_falls_back_and_logs_once(caplog):
    r = CpuRunner(lambda x: x - 1, fail=True, bucket_batch=False)
    with caplog.at_level(logging.DEBUG, logger="ffaccel.runtime"):
        for shape in [(2,), (2,), (3,)]:
            x = torch.arange(float(shape[0]))
            assert torch.equal(r(x), x - 1)
    warnings = [rec for rec in caplog.records if rec.levelno == logging.WARNING]
    assert len(warnings) == 1 and "not permitted" in warnings[0].getMessage()
    assert r.stats["capture_failures"] == 2  # (2,) failed once, then cached as eager
    assert r.stats["eager_calls"] == 3 and r.stats["captures"] == 0


def test_warmup_error_propagates():
    def broken(x):
        raise KeyError("bug in fn")

    r = CpuRunner(broken)
    with pytest.raises(KeyError, match="bug in fn"):
        r(torch.zeros(1, 1))
    assert r.num_graphs == 0


def test_real_runner_runs_cpu_tensors_eagerly(caplog):
    r = CudaGraphRunner(lambda x, k: x * k)
    with caplog.at_level(logging.INFO, logger="ffaccel.runtime"):
        y = r(torch.ones(3, 2), 4)
        r(torch.ones(3, 2), 4)
    assert torch.equal(y, torch.full((3, 2), 4.0))
    assert r.stats["eager_calls"] == 2 and r.num_graphs == 0
    assert sum("eagerly" in rec.getMessage() for rec in caplog.records) == 1


def test_inputs_requiring_grad_do_not_taint_static_buffers():
    w = torch.ones(2, 3, requires_grad=True)
    r = CpuRunner(lambda x: x * 2)
    for _ in range(2):
        y = r(w)
        assert not y.requires_grad and torch.equal(y, torch.full((2, 3), 2.0))
    (entry,) = r._cache.values()
    assert not any(t.requires_grad for t in entry.static_inputs)
