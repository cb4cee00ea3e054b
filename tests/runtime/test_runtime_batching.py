"""BatchProcessor: ordering, latency bound, flush, validation (CPU)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ffaccel.runtime import BatchProcessor


class Recorder:
    """A model that doubles its batch and records the batch sizes it saw."""

    def __init__(self):
        self.sizes: list[int] = []

    def __call__(self, batch):
        self.sizes.append(batch.shape[0])
        return batch * 2


def test_order_and_batch_sizes():
    model = Recorder()
    bp = BatchProcessor(model, max_batch=3)
    got = []
    items = {f"k{i}": np.full((2, 2), i, np.float32) for i in range(7)}
    for k, v in items.items():
        got += bp.submit(k, v)
    assert [k for k, _ in got] == ["k0", "k1", "k2", "k3", "k4", "k5"]
    assert bp.pending == 1
    got += bp.flush()
    assert [k for k, _ in got] == list(items)
    for k, r in got:
        np.testing.assert_array_equal(r, items[k] * 2)
    assert model.sizes == [3, 3, 1]
    assert bp.flush() == [] and bp.pending == 0
    assert bp.stats == {"batches": 3, "items": 7}


def test_tuple_items_and_tuple_outputs():
    seen = []

    def model(crops, embs):
        seen.append((crops.shape, embs.shape))
        return crops + embs[:, :1, None], embs.sum(axis=1)

    bp = BatchProcessor(model, max_batch=2)
    c = [np.full((1, 3), i, np.float64) for i in range(3)]
    e = [np.full((4,), 10 * i, np.float64) for i in range(3)]
    out = bp.submit(0, (c[0], e[0])) + bp.submit(1, (c[1], e[1])) + bp.submit(2, (c[2], e[2])) + bp.flush()
    assert seen == [((2, 1, 3), (2, 4)), ((1, 1, 3), (1, 4))]
    for (_, (a, s)), ci, ei in zip(out, c, e):
        np.testing.assert_array_equal(a, ci + ei[0])
        assert s == ei.sum()
    assert [k for k, _ in out] == [0, 1, 2]


def test_latency_bound_in_frames():
    model = Recorder()
    bp = BatchProcessor(model, max_batch=8, max_wait_frames=1)
    x = np.zeros(3, np.float32)
    bp.submit("f0a", x)
    assert bp.tick() == []  # waited 0 frames
    bp.submit("f1a", x)
    assert [k for k, _ in bp.tick()] == ["f0a", "f1a"]  # f0a waited 1 frame
    assert bp.frame == 2 and model.sizes == [2]
    assert bp.tick() == []  # nothing waiting


def test_zero_wait_batches_one_frame():
    bp = BatchProcessor(Recorder(), max_batch=4, max_wait_frames=0)
    for frame in range(3):
        for face in range(frame + 1):
            bp.submit((frame, face), np.zeros(1))
        assert [k for k, _ in bp.tick()] == [(frame, f) for f in range(frame + 1)]


def test_no_latency_bound():
    bp = BatchProcessor(Recorder(), max_batch=4)
    bp.submit(0, np.zeros(1))
    for _ in range(10):
        assert bp.tick() == []
    assert [k for k, _ in bp.flush()] == [0]


@settings(max_examples=60, deadline=None)
@given(
    max_batch=st.integers(1, 5),
    max_wait=st.one_of(st.none(), st.integers(0, 3)),
    ops=st.lists(st.sampled_from(["submit", "submit", "tick"]), max_size=40),
)
def test_every_item_once_in_order_within_bound(max_batch, max_wait, ops):
    model = Recorder()
    bp = BatchProcessor(model, max_batch=max_batch, max_wait_frames=max_wait)
    submitted_at: dict[int, int] = {}
    out: list[tuple[int, np.ndarray]] = []
    for op in ops:
        if op == "submit":
            key = len(submitted_at)
            submitted_at[key] = bp.frame
            out += bp.submit(key, np.array([key], np.int64))
        else:
            frame = bp.frame
            done = bp.tick()
            for k, _ in done:
                if max_wait is not None:
                    assert frame - submitted_at[k] <= max_wait
            out += done
        if max_wait is not None and bp.pending:
            # nothing still waiting is older than the bound
            assert all(bp.frame - submitted_at[k] <= max_wait for k in submitted_at if k not in dict(out))
    out += bp.flush()
    assert [k for k, _ in out] == list(submitted_at)
    assert all(int(r[0]) == 2 * k for k, r in out)
    assert all(1 <= s <= max_batch for s in model.sizes)


def test_torch_items():
    torch = pytest.importorskip("torch")
    bp = BatchProcessor(lambda b: b.flip(-1), max_batch=2)
    a, b = torch.arange(3.0), torch.arange(3.0, 6.0)
    out = bp.submit("a", a) + bp.submit("b", b)
    assert torch.equal(out[0][1], a.flip(-1)) and torch.equal(out[1][1], b.flip(-1))


def test_mismatched_item_is_rejected_and_not_queued():
    bp = BatchProcessor(Recorder(), max_batch=4)
    bp.submit(0, np.zeros((2, 2), np.float32))
    with pytest.raises(ValueError, match="item for key 1"):
        bp.submit(1, np.zeros((3, 2), np.float32))
    with pytest.raises(ValueError, match="item for key 2"):
        bp.submit(2, np.zeros((2, 2), np.float64))
    assert bp.pending == 1
    bp.flush()
    bp.submit(3, np.zeros((3, 2), np.float32))  # a new shape is fine once the queue is empty
    assert bp.pending == 1


@pytest.mark.parametrize("item, exc", [([1, 2], TypeError), ((), ValueError), ((np.zeros(1), 3), TypeError)])
def test_bad_items(item, exc):
    bp = BatchProcessor(Recorder())
    with pytest.raises(exc, match="item"):
        bp.submit(0, item)
    assert bp.pending == 0


def test_bad_model_output_and_failure_keeps_queue():
    bp = BatchProcessor(lambda b: b.sum(axis=0), max_batch=2)
    bp.submit(0, np.ones(3))
    with pytest.raises(ValueError, match="model output"):
        bp.submit(1, np.ones(3))
    assert bp.pending == 2  # nothing lost

    def boom(b):
        raise RuntimeError("model failed")

    bp2 = BatchProcessor(boom, max_batch=1)
    with pytest.raises(RuntimeError):
        bp2.submit("x", np.ones(1))
    assert bp2.pending == 1
    bp2.model = lambda b: b
    assert [k for k, _ in bp2.flush()] == ["x"]


@pytest.mark.parametrize(
    "kwargs, exc, name",
    [({"max_batch": 0}, ValueError, "max_batch"), ({"max_batch": 2.0}, TypeError, "max_batch"),
     ({"max_wait_frames": -1}, ValueError, "max_wait_frames"),
     ({"max_wait_frames": "1"}, TypeError, "max_wait_frames")],
)
def test_bad_arguments(kwargs, exc, name):
    with pytest.raises(exc, match=name):
        BatchProcessor(Recorder(), **kwargs)
    with pytest.raises(TypeError, match="model"):
        BatchProcessor("not callable")  # type: ignore[arg-type]
