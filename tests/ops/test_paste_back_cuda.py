"""paste_back on the GPU: byte parity with the CPU path, in place, batches, graph capture."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import ffaccel
from gpu import capture_torch_graph, to_gpu, to_host
from strategies import examples
from test_paste_back import COMPATS, paste_cases

pytestmark = pytest.mark.cuda


@settings(max_examples=examples(60), deadline=None)
@given(case=paste_cases(), compat=st.sampled_from(COMPATS))
def test_gpu_matches_cpu_bytes(fw, case, compat):
    frame, crop, mask, m = case
    if compat is not None and mask.dtype != np.float32:
        mask = mask.astype(np.float32) / 255
    cpu = ffaccel.paste_back(frame, crop, mask, m, compat=compat)
    g = to_gpu(frame, fw)
    gpu = ffaccel.paste_back(g, to_gpu(crop, fw), to_gpu(mask, fw), m, compat=compat)
    np.testing.assert_array_equal(to_host(gpu), cpu)
    np.testing.assert_array_equal(to_host(g), frame)  # not in place: the frame is untouched


@pytest.mark.parametrize("compat", COMPATS)
def test_1080p_batch_parity_in_place(fw, compat):
    rng = np.random.default_rng(8)
    frame = rng.integers(0, 256, (1080, 1920, 3), dtype=np.uint8)
    n = 36  # more than one launch group of 32
    crops = (rng.random((n, 128, 128, 3)) * 255).astype(np.float32)
    masks = rng.random((n, 128, 128)).astype(np.float32)
    ms = np.array([[[0.9, 0.1, -rng.uniform(0, 1700)], [-0.1, 0.9, -rng.uniform(0, 900)]] for _ in range(n)])
    cpu = ffaccel.paste_back_batch(frame, crops, masks, ms, compat=compat)
    g = to_gpu(frame, fw)
    res = ffaccel.paste_back_batch(g, to_gpu(crops, fw), to_gpu(masks, fw), ms, compat=compat, inplace=True)
    assert res is g
    np.testing.assert_array_equal(to_host(g), cpu)


@pytest.mark.parametrize("inplace", [False, True])
def test_launch_groups_use_the_union_of_all_areas(fw, inplace):
    """40 faces in two launch groups over one union of paste areas (paste_region): the
    second group's faces all miss the frame; then a batch where every face misses."""
    rng = np.random.default_rng(12)
    frame = rng.integers(0, 256, (300, 400, 3), dtype=np.uint8)
    n = 40
    crops = rng.integers(0, 256, (n, 48, 48, 3), dtype=np.uint8)
    masks = rng.random((n, 48, 48)).astype(np.float32)
    shift = [(-rng.uniform(0, 350), -rng.uniform(0, 250)) if i < 32 else (900.0, 900.0) for i in range(n)]
    for ms in (np.array([[[1.1, 0.1, tx], [-0.1, 1.1, ty]] for tx, ty in shift]),
               np.array([[[1.0, 0.0, 900.0], [0.0, 1.0, 900.0]]] * n)):
        cpu = ffaccel.paste_back_batch(frame, crops, masks, ms)
        g = to_gpu(frame, fw)
        res = ffaccel.paste_back_batch(g, to_gpu(crops, fw), to_gpu(masks, fw), ms, inplace=inplace)
        np.testing.assert_array_equal(to_host(res), cpu)


def test_torch_graph_capture_of_warp_then_paste():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(9)
    frames = [rng.integers(0, 256, (720, 1280, 3), dtype=np.uint8) for _ in range(3)]
    m = np.array([[0.6, -0.1, -300.0], [0.1, 0.6, -120.0]])
    mask = torch.from_numpy(rng.random((256, 256)).astype(np.float32)).cuda()
    src = torch.from_numpy(frames[0]).cuda()
    crop = torch.empty((256, 256, 3), dtype=torch.uint8, device="cuda")
    out = torch.empty_like(src)

    def step():
        ffaccel.warp_affine(src, m, (256, 256), out=crop)
        crop.copy_(255 - crop)  # a stand-in "swap"
        ffaccel.paste_back(src, crop, mask, m, out=out)

    graph = capture_torch_graph(step)
    for f in frames[1:]:
        src.copy_(torch.from_numpy(f))
        graph.replay()
        torch.cuda.synchronize()
        want_crop = 255 - ffaccel.warp_affine(f, m, (256, 256))
        want = ffaccel.paste_back(f, want_crop, mask.cpu().numpy(), m)
        np.testing.assert_array_equal(out.cpu().numpy(), want)
