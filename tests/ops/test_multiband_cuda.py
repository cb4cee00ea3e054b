"""paste_back(blend="multiband") on the GPU: byte parity with the CPU path, batches,
in place, out=, and capture inside a CUDA graph (the workspace comes from torch's
allocator during capture)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import ffaccel
from gpu import capture_torch_graph, to_gpu, to_host
from strategies import examples
from test_paste_back import paste_cases

pytestmark = pytest.mark.cuda


@settings(max_examples=examples(60), deadline=None)
@given(case=paste_cases(), levels=st.integers(1, 7))
def test_gpu_matches_cpu_bytes(fw, case, levels):
    frame, crop, mask, m = case
    cpu = ffaccel.paste_back(frame, crop, mask, m, blend="multiband", levels=levels)
    g = to_gpu(frame, fw)
    gpu = ffaccel.paste_back(g, to_gpu(crop, fw), to_gpu(mask, fw), m, blend="multiband", levels=levels)
    np.testing.assert_array_equal(to_host(gpu), cpu)
    np.testing.assert_array_equal(to_host(g), frame)


def test_1080p_batch_parity_in_place_and_out(fw):
    rng = np.random.default_rng(8)
    frame = rng.integers(0, 256, (1080, 1920, 3), dtype=np.uint8)
    n = 5
    crops = (rng.random((n, 512, 512, 3)) * 255).astype(np.float32)
    masks = rng.random((n, 512, 512)).astype(np.float32)
    ms = np.array([[[1.2, 0.1, -rng.uniform(0, 1500)], [-0.1, 1.2, -rng.uniform(0, 700)]] for _ in range(n)])
    cpu = ffaccel.paste_back_batch(frame, crops, masks, ms, blend="multiband")
    g = to_gpu(frame, fw)
    gc, gm = to_gpu(crops, fw), to_gpu(masks, fw)
    out = to_gpu(np.zeros_like(frame), fw)
    assert ffaccel.paste_back_batch(g, gc, gm, ms, blend="multiband", out=out) is out
    np.testing.assert_array_equal(to_host(out), cpu)
    res = ffaccel.paste_back_batch(g, gc, gm, ms, blend="multiband", inplace=True)
    assert res is g
    np.testing.assert_array_equal(to_host(g), cpu)


def test_uint8_mask_4_channels_parity(fw):
    rng = np.random.default_rng(10)
    frame = rng.integers(0, 256, (300, 400, 4), dtype=np.uint8)
    crop = rng.integers(0, 256, (128, 128, 4), dtype=np.uint8)
    mask = rng.integers(0, 256, (128, 128), dtype=np.uint8)
    m = np.array([[0.7, 0.2, -80.0], [-0.2, 0.7, -40.0]])
    cpu = ffaccel.paste_back(frame, crop, mask, m, blend="multiband", levels=6)
    gpu = ffaccel.paste_back(to_gpu(frame, fw), to_gpu(crop, fw), to_gpu(mask, fw), m, blend="multiband", levels=6)
    np.testing.assert_array_equal(to_host(gpu), cpu)


def test_torch_graph_capture_of_multiband_paste():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(9)
    frames = [rng.integers(0, 256, (720, 1280, 3), dtype=np.uint8) for _ in range(3)]
    m = np.array([[0.6, -0.1, -300.0], [0.1, 0.6, -120.0]])
    mask_h = rng.random((256, 256)).astype(np.float32)
    crop_h = rng.integers(0, 256, (256, 256, 3), dtype=np.uint8)
    mask, crop = torch.from_numpy(mask_h).cuda(), torch.from_numpy(crop_h).cuda()
    src = torch.from_numpy(frames[0]).cuda()
    out = torch.empty_like(src)

    def step():
        ffaccel.paste_back(src, crop, mask, m, out=out, blend="multiband")

    graph = capture_torch_graph(step)
    for f in frames[1:]:
        src.copy_(torch.from_numpy(f))
        graph.replay()
        torch.cuda.synchronize()
        want = ffaccel.paste_back(f, crop_h, mask_h, m, blend="multiband")
        np.testing.assert_array_equal(out.cpu().numpy(), want)
