"""paste_back_insightface's lean path and InsightfacePlan on the GPU: the CPU's bytes, no
synchronisation, graph capture, bad input refused with nothing written.

Every test here is marked ``cuda``; they run on a machine with a GPU (``pytest -m cuda``)
and are skipped (never counted as passed) elsewhere.
"""

from __future__ import annotations

import numpy as np
import pytest

import ffaccel
from ffaccel import _fast
from gpu import capture_torch_graph, frameworks, synchronize, to_gpu, to_host
from insightface_reference import face_matrix

pytestmark = pytest.mark.cuda
FRAMEWORKS = frameworks()
GEN = "insightface-opencv5"


def _args(seed=0, h=270, w=480):
    rng = np.random.default_rng(seed)
    frame = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    crop = rng.integers(0, 256, (128, 128, 3), dtype=np.uint8)
    return frame, crop, [face_matrix((w * 0.4 + 25 * i, h * 0.5 - 9 * i), 110.0 + 30 * i, 12.0 * i) for i in range(3)]


def _cpu(frame, crop, m):
    return ffaccel.paste_back_insightface(frame, crop, m, compat=GEN)


@pytest.mark.parametrize("fw", FRAMEWORKS)
@pytest.mark.parametrize("mode", ["out", "new", "inplace"])
def test_lean_path_and_plan_match_cpu_bytes(fw, mode):
    frame, crop, mats = _args(1)
    g_frame, g_crop = to_gpu(frame, fw), to_gpu(crop, fw)
    g_out = to_gpu(np.zeros_like(frame), fw) if mode == "out" else None
    kw = {"inplace": True} if mode == "inplace" else {"out": g_out}
    example = to_gpu(frame, fw) if mode == "inplace" else g_frame
    plan = ffaccel.prepare(ffaccel.paste_back_insightface, example, g_crop, mats[0], compat=GEN, **kw)
    expected = [_cpu(frame, crop, m) for m in mats]
    _fast.cache_clear()
    for m, want in zip(mats, expected):  # the first plain call stores the spec, the next ones take the lean path
        for call in ("plain", "plan"):
            target = to_gpu(frame, fw) if mode == "inplace" else g_frame
            if call == "plain":
                res = ffaccel.paste_back_insightface(target, g_crop, m, compat=GEN, **kw)
            else:
                res = plan(target, g_crop, m, out=g_out) if mode != "inplace" else plan(target, g_crop, m)
            synchronize(fw)
            if mode == "out":
                assert res is g_out
            if mode == "inplace":
                assert res is target
            np.testing.assert_array_equal(to_host(res), want)
    assert len(_fast.CACHE) == 1  # one GPU spec, reused


def _torch_plan(seed, k):
    """Host frame, crop and matrices; their torch copies, an out= tensor, and a plan made with matrix k."""
    import torch

    frame, crop, mats = _args(seed)
    g_frame, g_crop = to_gpu(frame, "torch"), to_gpu(crop, "torch")
    out = torch.empty_like(g_frame)
    plan = ffaccel.prepare(ffaccel.paste_back_insightface, g_frame, g_crop, mats[k], compat=GEN, out=out)
    return frame, crop, mats, g_frame, g_crop, out, plan


@pytest.mark.skipif("torch" not in FRAMEWORKS, reason="needs torch with CUDA")
def test_lean_path_and_plan_never_synchronise():
    import torch

    frame, crop, mats, g_frame, g_crop, out, plan = _torch_plan(2, 0)
    ffaccel.paste_back_insightface(g_frame, g_crop, mats[0], compat=GEN, out=out)  # stores the spec
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        for m in mats:
            plan(g_frame, g_crop, m, out=out)
            ffaccel.paste_back_insightface(g_frame, g_crop, m, compat=GEN, out=out)
    finally:
        torch.cuda.set_sync_debug_mode("default")
    torch.cuda.synchronize()
    np.testing.assert_array_equal(to_host(out), _cpu(frame, crop, mats[-1]))


@pytest.mark.skipif("torch" not in FRAMEWORKS, reason="needs torch with CUDA")
def test_plan_captures_in_a_graph():
    import torch

    frame, crop, mats, g_frame, g_crop, out, plan = _torch_plan(3, 1)
    graph = capture_torch_graph(lambda: plan(g_frame, g_crop, mats[1], out=out))
    new = np.random.default_rng(4).integers(0, 256, frame.shape, dtype=np.uint8)
    g_frame.copy_(torch.from_numpy(new).cuda())
    out.zero_()
    graph.replay()
    torch.cuda.synchronize()
    np.testing.assert_array_equal(to_host(out), _cpu(new, crop, mats[1]))


@pytest.mark.parametrize("fw", FRAMEWORKS)
def test_bad_matrix_and_overlap_write_nothing(fw):
    frame, crop, mats = _args(5)
    g_frame, g_crop = to_gpu(frame, fw), to_gpu(crop, fw)
    g_out = to_gpu(np.full_like(frame, 9), fw)
    plan = ffaccel.prepare(ffaccel.paste_back_insightface, g_frame, g_crop, mats[0], compat=GEN, out=g_out)
    ffaccel.paste_back_insightface(g_frame, g_crop, mats[0], compat=GEN, out=to_gpu(frame, fw))  # stores the spec
    for call in (plan, lambda f, c, m, out: ffaccel.paste_back_insightface(f, c, m, compat=GEN, out=out)):
        with pytest.raises(ValueError, match="^matrix: expected an invertible matrix"):
            call(g_frame, g_crop, np.zeros((2, 3)), out=g_out)
        with pytest.raises(ValueError, match="^out"):
            call(g_frame, g_crop, mats[0], out=g_frame)  # out is the frame: same signature, refused
        synchronize(fw)
        assert (to_host(g_out) == 9).all()
        np.testing.assert_array_equal(to_host(g_frame), frame)
