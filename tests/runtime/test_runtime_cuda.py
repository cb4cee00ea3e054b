"""Device tests of ffaccel.runtime (marked `cuda`, skipped where no GPU is visible).

Every test that compares a graph with eager also checks that a graph was really
captured and replayed (no silent eager fallback), so the comparison can fail.
"""

from __future__ import annotations

import logging
import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import ffaccel  # noqa: E402
from ffaccel.runtime import (  # noqa: E402
    CudaGraphRunner,
    MemoryPolicy,
    OrtCudaSession,
    OrtCudaUnavailableError,
    deterministic_context,
)

pytestmark = pytest.mark.cuda

DEV = "cuda"


class TinySwapper(torch.nn.Module):
    """1x3x128x128 image + 1x512 embedding -> 1x3x128x128, embedding-modulated convs."""

    def __init__(self, ch: int = 16):
        super().__init__()
        g = torch.Generator().manual_seed(0)
        self.c1 = torch.nn.Conv2d(3, ch, 3, padding=1)
        self.c2 = torch.nn.Conv2d(ch, ch, 3, padding=1)
        self.c3 = torch.nn.Conv2d(ch, 3, 3, padding=1)
        self.fc = torch.nn.Linear(512, ch)
        with torch.no_grad():
            for p in self.parameters():
                p.copy_(torch.randn(p.shape, generator=g) * 0.1)

    def forward(self, x, emb):
        style = 1 + self.fc(emb)[:, :, None, None]
        h = torch.relu(self.c1(x)) * style
        h = torch.relu(self.c2(h)) * style
        return torch.tanh(self.c3(h))


@pytest.fixture(scope="module")
def net():
    return TinySwapper().to(DEV).eval()


def _inputs(n, seed):
    g = torch.Generator(device=DEV).manual_seed(seed)
    x = torch.rand(n, 3, 128, 128, device=DEV, generator=g)
    e = torch.randn(n, 512, device=DEV, generator=g)
    return x, e


@pytest.mark.parametrize("deterministic", [False, True])
def test_graph_equals_eager_per_bucket(net, deterministic):
    ctx = deterministic_context() if deterministic else _null()
    with ctx, torch.no_grad():
        r = CudaGraphRunner(net, max_bucket=8)
        for i, n in enumerate([1, 2, 4, 8, 1, 2, 4, 8]):
            x, e = _inputs(n, seed=i)
            y = r(x, e)
            assert torch.equal(y, net(x, e)), f"graph != eager at batch {n}"
        assert r.stats["captures"] == 4 and r.stats["replays"] == 8
        assert r.stats["eager_calls"] == 0 and r.stats["capture_failures"] == 0


def test_padded_bucket_equals_eager_on_padded_batch(net):
    # TF32 off so that the unpadded comparison can use a float32-sized tolerance
    with deterministic_context(), torch.no_grad():
        r = CudaGraphRunner(net, max_bucket=8)
        x, e = _inputs(3, seed=11)
        y = r(x, e)
        y2 = r(*_inputs(3, seed=12))
        assert y.shape == (3, 3, 128, 128) and r.stats["captures"] == 1 and r.stats["replays"] == 2
        pad_x = torch.cat([x, torch.zeros_like(x[:1])])
        pad_e = torch.cat([e, torch.zeros_like(e[:1])])
        assert torch.equal(y, net(pad_x, pad_e)[:3])  # same kernels as the bucket: exact
        torch.testing.assert_close(y, net(x, e), rtol=1e-4, atol=1e-4)  # batch 3 may pick other kernels
        assert not torch.equal(y, y2)


def test_lru_eviction_on_device(net):
    with torch.no_grad():
        r = CudaGraphRunner(net, max_graphs=2, max_bucket=8)
        for n in (1, 2, 4):
            r(*_inputs(n, seed=n))
        assert r.num_graphs == 2 and r.stats["evictions"] == 1
        x, e = _inputs(1, seed=99)  # bucket 1 was evicted: re-captured, still exact
        assert torch.equal(r(x, e), net(x, e))
        assert r.stats["captures"] == 4 and r.stats["evictions"] == 2


def test_capture_failure_falls_back_to_eager_and_logs_once(net, caplog):
    def picky(x, e):
        if torch.cuda.is_current_stream_capturing():
            raise RuntimeError("refuses to be captured")
        return net(x, e)

    with torch.no_grad(), caplog.at_level(logging.WARNING, logger="ffaccel.runtime"):
        r = CudaGraphRunner(picky, max_bucket=8)
        for n in (1, 1, 2):
            x, e = _inputs(n, seed=n)
            assert torch.equal(r(x, e), net(x, e))
    assert r.stats["capture_failures"] == 2 and r.stats["eager_calls"] == 3 and r.stats["captures"] == 0
    msgs = [rec.getMessage() for rec in caplog.records if rec.name == "ffaccel.runtime"]
    assert len(msgs) == 1 and "refuses to be captured" in msgs[0]
    # the device is still usable for graphs afterwards
    r2 = CudaGraphRunner(net)
    x, e = _inputs(1, seed=5)
    assert torch.equal(r2(x, e), net(x, e)) and r2.stats["captures"] == 1


def test_memory_policy_measured(net):
    torch.cuda.synchronize()
    r = CudaGraphRunner(TinySwapper(ch=64).to(DEV).eval(), max_bucket=8)
    with torch.no_grad():
        r(*_inputs(8, seed=1))
    scratch = torch.empty(256 * 2**20, dtype=torch.uint8, device=DEV)  # 256 MiB, then freed
    del scratch
    torch.cuda.synchronize()

    before = torch.cuda.memory_reserved()
    assert MemoryPolicy("normal").release([r]).torch_reserved_after == before
    rep = MemoryPolicy("moderate").release([r])
    assert rep.torch_reserved_before == before
    assert rep.torch_reserved_after == torch.cuda.memory_reserved()
    assert before - rep.torch_reserved_after >= 256 * 2**20  # the freed block went back
    assert r.num_graphs == 1  # moderate keeps graphs

    mid = torch.cuda.memory_reserved()
    rep = MemoryPolicy("strict").release([r])
    assert rep.graphs_dropped == 1 and r.num_graphs == 0
    assert rep.torch_reserved_after < mid  # the graph's private pool was released
    with torch.no_grad():  # and the runner still works, re-capturing
        x, e = _inputs(8, seed=2)
        assert r(x, e).shape == (8, 3, 128, 128) and r.stats["captures"] == 2


def test_memory_policy_cupy_pool():
    cupy = pytest.importorskip("cupy")
    a = cupy.ones(64 * 2**20, dtype=cupy.uint8)
    del a
    rep = MemoryPolicy("moderate").release()
    assert rep.cupy_pool_before >= 64 * 2**20 and rep.cupy_pool_after < rep.cupy_pool_before


# ------------------------------------------------------------------ whole per-face sequence
H, W, S = 1080, 1920, 128


def _similarity(angle_deg, scale, center, crop=S):
    """2x3 source->crop matrix (OpenCV convention) mapping ``center`` to the crop centre."""
    a = np.deg2rad(angle_deg)
    rot = scale * np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    t = np.array([(crop - 1) / 2, (crop - 1) / 2]) - rot @ np.asarray(center, np.float64)
    return np.hstack([rot, t[:, None]]).astype(np.float64)


def _invert(m):
    a = np.linalg.inv(m[:, :2])
    return np.hstack([a, (-a @ m[:, 2])[:, None]])


def _make_sequence(net):
    """frame (H, W, 3) uint8, emb (1, 512) float32, matrix (2, 3) float64 -> frame uint8."""
    if not hasattr(ffaccel, "warp_affine"):
        pytest.skip("ffaccel.warp_affine is not in this build")
    paste = getattr(ffaccel, "paste_back", None)
    mask = torch.ones(S, S, dtype=torch.float32, device=DEV)
    ones = torch.full((S, S, 3), 255, dtype=torch.uint8, device=DEV)
    if paste is not None:  # this test is about capture, not paste_back's argument rules
        try:
            paste(torch.zeros(H, W, 3, dtype=torch.uint8, device=DEV), ones, mask, M1)
        except (TypeError, ValueError) as exc:
            msg = f"ffaccel.paste_back rejected the test's arguments ({exc}); using a warp-based paste"
            warnings.warn(msg, stacklevel=2)
            paste = None
    pasted = torch.empty(H, W, 3, dtype=torch.uint8, device=DEV)
    cover = torch.empty(H, W, 3, dtype=torch.uint8, device=DEV)

    def sequence(frame, emb, matrix):
        crop = ffaccel.warp_affine(frame, matrix, (S, S))  # (S, S, 3) uint8
        x = crop.permute(2, 0, 1)[None].float() / 255.0
        y = net(x, emb)[0]  # (3, S, S) in [-1, 1]
        face = ((y.permute(1, 2, 0) + 1) * 127.5).clamp(0, 255).round().to(torch.uint8).contiguous()
        if paste is not None:
            return paste(frame, face, mask, matrix)
        inv = _invert(matrix)
        ffaccel.warp_affine(face, inv, (W, H), border="constant", border_value=0, out=pasted)
        ffaccel.warp_affine(ones, inv, (W, H), border="constant", border_value=0, out=cover)
        return torch.where(cover > 0, pasted, frame)

    return sequence


def _frame(seed):
    g = torch.Generator(device=DEV).manual_seed(seed)
    return torch.randint(0, 256, (H, W, 3), dtype=torch.uint8, device=DEV, generator=g)


def _emb(seed):
    return torch.randn(1, 512, device=DEV, generator=torch.Generator(device=DEV).manual_seed(seed))


M1 = _similarity(12.0, 0.4, (900.0, 500.0))
M2 = _similarity(-5.0, 0.35, (1100.0, 560.0))


def test_whole_sequence_graph_equals_eager(net):
    seq = _make_sequence(net)
    with torch.no_grad():
        r = CudaGraphRunner(seq, bucket_batch=False, max_graphs=4)
        for i in range(3):
            f, e = _frame(i), _emb(i)
            out = r(f, e, M1)
            assert out.shape == (H, W, 3) and out.dtype == torch.uint8
            assert torch.equal(out, seq(f, e, M1)), f"replay {i} differs from eager"
        assert r.stats["captures"] == 1 and r.stats["replays"] == 3 and r.stats["eager_calls"] == 0
        f, e = _frame(7), _emb(7)
        out2 = r(f, e, M2)  # a new matrix value is a new cache key: captured again
        assert r.stats["captures"] == 2
        assert torch.equal(out2, seq(f, e, M2))
        assert not torch.equal(out2, seq(f, e, M1))


def test_matrix_hidden_in_closure_is_baked_at_capture(net):
    """The documented pitfall: a matrix the runner cannot see replays its capture value."""
    seq = _make_sequence(net)
    holder = {"m": M1}
    with torch.no_grad():
        r = CudaGraphRunner(lambda f, e: seq(f, e, holder["m"]), bucket_batch=False)
        r(_frame(0), _emb(0))
        holder["m"] = M2
        f, e = _frame(1), _emb(1)
        out = r(f, e)
        assert r.stats["captures"] == 1 and r.stats["replays"] == 2
        assert torch.equal(out, seq(f, e, M1))
        assert not torch.equal(out, seq(f, e, M2))


# ------------------------------------------------------------------ ONNX Runtime
def test_ort_session_io_binding(tmp_path):
    onnx = pytest.importorskip("onnx")
    try:
        from ffaccel.runtime import require_onnxruntime_gpu

        require_onnxruntime_gpu()
    except OrtCudaUnavailableError as exc:
        pytest.skip(str(exc))
    from onnx import TensorProto, helper

    two = helper.make_tensor("two", TensorProto.FLOAT, [], [2.0])
    graph = helper.make_graph(
        [helper.make_node("Mul", ["x", "two"], ["y"])], "double",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, 8, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 3, 8, 8])],
        initializer=[two],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    path = tmp_path / "double.onnx"
    onnx.save(model, str(path))
    try:
        sess = OrtCudaSession(str(path))
    except OrtCudaUnavailableError as exc:  # CUDA EP present but not loadable (libs)
        pytest.skip(str(exc))
    x = torch.rand(2, 3, 8, 8, device=DEV)
    y = sess.run({"x": x})["y"]
    assert y.device.type == "cuda" and torch.equal(y, x * 2)
    out = torch.empty_like(x)
    assert sess.run({"x": x}, outputs={"y": out})["y"] is out and torch.equal(out, x * 2)


class _null:
    def __enter__(self):
        return None

    def __exit__(self, *exc):
        return False
