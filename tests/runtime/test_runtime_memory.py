"""MemoryPolicy with fake torch.cuda / cupy backends (CPU)."""

from __future__ import annotations

import pytest

from ffaccel.runtime import MemoryPolicy, memory


class FakeTorchCuda:
    def __init__(self):
        self.calls: list[str] = []
        self.reserved = 1000

    def memory_reserved(self):
        return self.reserved

    def synchronize(self):
        self.calls.append("synchronize")

    def empty_cache(self):
        self.calls.append("empty_cache")
        self.reserved = 100

    def ipc_collect(self):
        self.calls.append("ipc_collect")


class FakePool:
    def __init__(self, log, name, total):
        self.log, self.name, self.total = log, name, total

    def total_bytes(self):
        return self.total

    def free_all_blocks(self):
        self.log.append(f"{self.name}.free_all_blocks")
        self.total = 0


class FakeCupy:
    def __init__(self):
        self.calls: list[str] = []
        self.pool = FakePool(self.calls, "device", 500)
        self.pinned = FakePool(self.calls, "pinned", 50)

    def get_default_memory_pool(self):
        return self.pool

    def get_default_pinned_memory_pool(self):
        return self.pinned


class FakeRunner:
    def __init__(self, n):
        self.n = n

    def clear(self):
        n, self.n = self.n, 0
        return n


@pytest.fixture
def fakes(monkeypatch):
    tc, cp = FakeTorchCuda(), FakeCupy()
    monkeypatch.setattr(memory, "_torch_cuda", lambda: tc)
    monkeypatch.setattr(memory, "_cupy", lambda: cp)
    return tc, cp


def test_normal_releases_nothing(fakes):
    tc, cp = fakes
    runner = FakeRunner(3)
    rep = MemoryPolicy("normal").release([runner])
    assert rep.actions == [] and tc.calls == [] and cp.calls == []
    assert runner.n == 3
    assert rep.torch_reserved_before == rep.torch_reserved_after == 1000
    assert rep.cupy_pool_before == rep.cupy_pool_after == 500


def test_moderate_empties_caches_keeps_graphs(fakes):
    tc, cp = fakes
    runner = FakeRunner(3)
    rep = MemoryPolicy("moderate").release([runner])
    assert runner.n == 3 and rep.graphs_dropped == 0
    assert tc.calls == ["synchronize", "empty_cache", "ipc_collect"]
    assert cp.calls == ["device.free_all_blocks"]
    assert (rep.torch_reserved_before, rep.torch_reserved_after) == (1000, 100)
    assert (rep.cupy_pool_before, rep.cupy_pool_after) == (500, 0)
    assert rep.actions == ["gc.collect", "torch.cuda.empty_cache", "torch.cuda.ipc_collect", "cupy.free_all_blocks"]


def test_strict_drops_graphs_first(fakes):
    tc, cp = fakes
    runners = [FakeRunner(3), FakeRunner(2)]
    rep = MemoryPolicy("strict").release(runners)
    assert rep.graphs_dropped == 5 and all(r.n == 0 for r in runners)
    assert rep.actions[0] == "clear_graphs" and rep.actions[-1] == "cupy.pinned.free_all_blocks"
    assert cp.calls == ["device.free_all_blocks", "pinned.free_all_blocks"]


def test_strict_defaults_to_live_runners(fakes):
    torch = pytest.importorskip("torch")
    from test_runtime_graph_runner import CpuRunner

    r = CpuRunner(lambda x: x + 1, bucket_batch=False)
    r(torch.zeros(2))
    r(torch.zeros(3))
    assert r.num_graphs == 2
    rep = MemoryPolicy("strict").release()
    assert r.num_graphs == 0 and rep.graphs_dropped >= 2


def test_without_frameworks(monkeypatch):
    monkeypatch.setattr(memory, "_torch_cuda", lambda: None)
    monkeypatch.setattr(memory, "_cupy", lambda: None)
    rep = MemoryPolicy("strict").release([])
    assert rep.actions == ["clear_graphs", "gc.collect"]
    assert rep.torch_reserved_before is None and rep.cupy_pool_after is None


def test_real_backends_do_not_fail_without_gpu():
    rep = MemoryPolicy("moderate").release()
    assert rep.level == "moderate"


def test_plan_and_describe():
    assert MemoryPolicy().level == "moderate"
    assert MemoryPolicy("normal").describe() == "normal: releases nothing"
    assert "CUDA graphs" in MemoryPolicy("strict").describe()
    assert MemoryPolicy("strict").plan.clear_graphs and not MemoryPolicy("moderate").plan.clear_graphs


def test_bad_level_and_runners(fakes):
    with pytest.raises(ValueError, match="level"):
        MemoryPolicy("tolerant")
    with pytest.raises(TypeError, match="level"):
        MemoryPolicy(1)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="runners"):
        MemoryPolicy("strict").release([object()])
