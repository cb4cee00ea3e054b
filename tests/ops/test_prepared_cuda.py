"""Prepared calls and the lean plain path on the GPU: bytes, streams, no sync, graph capture.

Every test here is marked ``cuda``; they run on a machine with a GPU (``pytest -m cuda``)
and are skipped (never counted as passed) elsewhere.
"""

from __future__ import annotations

import numpy as np
import pytest

import ffaccel
from gpu import capture_torch_graph, frameworks, synchronize, to_gpu, to_host

pytestmark = pytest.mark.cuda
FRAMEWORKS = frameworks()


def _face_args(rng, n=None):
    frame = rng.integers(0, 256, (270, 480, 3), dtype=np.uint8)
    mat = np.array([[0.9, 0.1, -150.0], [-0.1, 0.9, -60.0]])
    mats = mat if n is None else np.stack([mat + [[0, 0, -20.0 * i], [0, 0, -10.0 * i]] for i in range(n)])
    return frame, mats


@pytest.mark.parametrize("fw", FRAMEWORKS)
@pytest.mark.parametrize("n", [None, 1, 4])
def test_plans_match_cpu_bytes(fw, n):
    rng = np.random.default_rng(3)
    frame, mats = _face_args(rng, n)
    warp_op = ffaccel.warp_affine if n is None else ffaccel.warp_affine_batch
    paste_op = ffaccel.paste_back if n is None else ffaccel.paste_back_batch
    crop_cpu = warp_op(frame, mats, (128, 128))
    box = np.zeros((128, 128), np.float32)
    box[16:112, 16:112] = 1
    mask_cpu = ffaccel.feather_mask(box, 3.0) if n is None else np.full(crop_cpu.shape[:-1], 0.75, np.float32)
    pasted_cpu = paste_op(frame, crop_cpu, mask_cpu, mats)
    g_frame = to_gpu(frame, fw)
    g_crop = to_gpu(np.zeros_like(crop_cpu), fw)
    g_out = to_gpu(np.zeros_like(frame), fw)
    g_mask = to_gpu(mask_cpu, fw)
    warp = ffaccel.prepare(warp_op, g_frame, mats, (128, 128), out=g_crop)
    paste = ffaccel.prepare(paste_op, g_frame, g_crop, g_mask, mats, out=g_out)
    for _ in range(2):  # the second round reuses the cached image descriptors
        warp(g_frame, mats, out=g_crop)
        paste(g_frame, g_crop, g_mask, mats, out=g_out)
        synchronize(fw)
        np.testing.assert_array_equal(to_host(g_crop), crop_cpu)
        np.testing.assert_array_equal(to_host(g_out), pasted_cpu)
    if n is None:
        src = to_gpu(box, fw)
        g_soft = to_gpu(np.zeros((128, 128), np.float32), fw)
        feather = ffaccel.prepare(ffaccel.feather_mask, src, 3.0, out=g_soft)
        feather(src, out=g_soft)
        synchronize(fw)
        np.testing.assert_array_equal(to_host(g_soft), mask_cpu)


@pytest.mark.skipif("torch" not in FRAMEWORKS, reason="needs torch with CUDA")
def test_plans_and_lean_path_never_synchronise():
    import torch

    rng = np.random.default_rng(4)
    frame, mat = _face_args(rng)
    g_frame = to_gpu(frame, "torch")
    crop = torch.empty((128, 128, 3), dtype=torch.uint8, device="cuda")
    mask = torch.full((128, 128), 0.5, dtype=torch.float32, device="cuda")
    out = torch.empty_like(g_frame)
    warp = ffaccel.prepare(ffaccel.warp_affine, g_frame, mat, (128, 128), out=crop)
    paste = ffaccel.prepare(ffaccel.paste_back, g_frame, crop, mask, mat, out=out)
    ffaccel.warp_affine(g_frame, mat, (128, 128), out=crop)  # caches the plain path's spec
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        for _ in range(3):
            warp(g_frame, mat, out=crop)
            paste(g_frame, crop, mask, mat, out=out)
            ffaccel.warp_affine(g_frame, mat, (128, 128), out=crop)
            ffaccel.paste_back(g_frame, crop, mask, mat, out=out)
    finally:
        torch.cuda.set_sync_debug_mode("default")
    torch.cuda.synchronize()


@pytest.mark.skipif("torch" not in FRAMEWORKS, reason="needs torch with CUDA")
def test_prepared_face_captures_in_a_graph():
    import torch

    rng = np.random.default_rng(5)
    frame, mat = _face_args(rng)
    g_frame = to_gpu(frame, "torch")
    crop = torch.empty((128, 128, 3), dtype=torch.uint8, device="cuda")
    box = np.zeros((128, 128), np.float32)
    box[20:108, 20:108] = 1
    hard = torch.from_numpy(box).cuda()
    soft = torch.empty_like(hard)
    out = torch.empty_like(g_frame)
    warp = ffaccel.prepare(ffaccel.warp_affine, g_frame, mat, (128, 128), out=crop)
    feather = ffaccel.prepare(ffaccel.feather_mask, hard, 4.0, out=soft)
    paste = ffaccel.prepare(ffaccel.paste_back, g_frame, crop, soft, mat, out=out)

    def step():
        warp(g_frame, mat, out=crop)
        crop.add_(1)  # stands in for the swapper
        feather(hard, out=soft)
        paste(g_frame, crop, soft, mat, out=out)

    graph = capture_torch_graph(step)
    new = rng.integers(0, 256, frame.shape, dtype=np.uint8)
    g_frame.copy_(torch.from_numpy(new).cuda())
    out.zero_()
    graph.replay()
    torch.cuda.synchronize()
    c = ffaccel.warp_affine(new, mat, (128, 128))
    c = (c.astype(np.uint16) + 1).astype(np.uint8)
    m = ffaccel.feather_mask(box, 4.0)
    np.testing.assert_array_equal(to_host(out), ffaccel.paste_back(new, c, m, mat))


@pytest.mark.parametrize("fw", FRAMEWORKS)
def test_gpu_plan_bad_matrix_writes_nothing(fw):
    rng = np.random.default_rng(6)
    frame, mat = _face_args(rng)
    g_frame = to_gpu(frame, fw)
    crop = to_gpu(np.full((64, 64, 3), 9, np.uint8), fw)
    warp = ffaccel.prepare(ffaccel.warp_affine, g_frame, mat, (64, 64), out=crop)
    with pytest.raises(ValueError, match="^matrix: expected an invertible matrix"):
        warp(g_frame, np.zeros((2, 3)), out=crop)
    synchronize(fw)
    assert (to_host(crop) == 9).all()
