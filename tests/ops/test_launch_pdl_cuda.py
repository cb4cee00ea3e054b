"""Kernels launched with programmatic dependent launch (the default on compute capability 9.0+;
kernels/cuda/launch.h) and without it (FFACCEL_PDL=0): the same bytes as the CPU path, eager,
back to back without a sync, and replayed from a CUDA graph. The variable is read once per
process, so each case runs in a child process (FFACCEL_PDL=1, the default spelled out, and 0).

Marked ``cuda``: run on a GPU machine (``pytest -m cuda``), skipped elsewhere. On GPUs older
than compute capability 9.0 the launches are plain ones and the test checks only that.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from gpu import frameworks

pytestmark = pytest.mark.cuda

_CHILD = textwrap.dedent("""
    import numpy as np, torch
    import ffaccel
    from gpu import capture_torch_graph
    from insightface_reference import face_matrix

    rng = np.random.default_rng(5)
    # one face: warp -> feather -> paste into a new frame (the chain PDL overlaps)
    frame = rng.integers(0, 256, (1080, 1920, 3), dtype=np.uint8)
    m = np.array([[0.8, 0.15, -700.0], [-0.15, 0.8, -250.0]])
    box = np.zeros((512, 512), np.float32)
    box[40:472, 40:472] = 1
    crop_cpu = ffaccel.warp_affine(frame, m, (512, 512))
    soft_cpu = ffaccel.feather_mask(box, 8.0)
    out_cpu = ffaccel.paste_back(frame, crop_cpu, soft_cpu, m)
    g_frame, g_box = torch.from_numpy(frame).cuda(), torch.from_numpy(box).cuda()
    crop = torch.empty((512, 512, 3), dtype=torch.uint8, device="cuda")
    soft = torch.empty((512, 512), dtype=torch.float32, device="cuda")
    out = torch.empty_like(g_frame)

    def face():
        ffaccel.warp_affine(g_frame, m, (512, 512), out=crop)
        ffaccel.feather_mask(g_box, 8.0, out=soft)
        ffaccel.paste_back(g_frame, crop, soft, m, out=out)

    def check(what):
        torch.cuda.synchronize()
        for name, got, want in (("crop", crop, crop_cpu), ("mask", soft, soft_cpu), ("paste", out, out_cpu)):
            assert np.array_equal(got.cpu().numpy(), want), f"{what}: {name} differs from the CPU path"

    for _ in range(50):  # back to back: each launch may overlap the one before
        face()
    check("eager")
    graph = capture_torch_graph(face)
    for _ in range(3):
        crop.zero_(), soft.zero_(), out.zero_()
        for _ in range(20):
            graph.replay()
        check("graph")

    # the insightface paste's chain of five or six kernels, new frame and in place, 1080p and 4K
    for h, w, size in ((1080, 1920, 380), (2160, 3840, 760)):
        img = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
        fake = rng.integers(0, 256, (128, 128, 3), dtype=np.uint8)
        mi = face_matrix((w * 0.45, h * 0.55), size, 17.0)
        want = ffaccel.paste_back_insightface(img, fake, mi)
        g_img, g_fake = torch.from_numpy(img).cuda(), torch.from_numpy(fake).cuda()
        res = torch.empty_like(g_img)
        for _ in range(20):
            ffaccel.paste_back_insightface(g_img, g_fake, mi, out=res)
        torch.cuda.synchronize()
        assert np.array_equal(res.cpu().numpy(), want), f"insightface {w}x{h}: new frame differs"
        g_graph = capture_torch_graph(lambda: ffaccel.paste_back_insightface(g_img, g_fake, mi, out=res))
        res.zero_()
        for _ in range(10):
            g_graph.replay()
        torch.cuda.synchronize()
        assert np.array_equal(res.cpu().numpy(), want), f"insightface {w}x{h}: graph differs"
        inplace = g_img.clone()
        ffaccel.paste_back_insightface(inplace, g_fake, mi, inplace=True)
        torch.cuda.synchronize()
        assert np.array_equal(inplace.cpu().numpy(), want), f"insightface {w}x{h}: in place differs"
    print("ok")
""")


@pytest.mark.skipif("torch" not in frameworks(), reason="needs torch with CUDA")
@pytest.mark.parametrize("pdl", ["1", "0"])
def test_chains_match_cpu_bytes_with_and_without_pdl(pdl):
    tests = Path(__file__).resolve().parents[1]
    env = dict(os.environ, FFACCEL_PDL=pdl, PYTHONPATH=os.pathsep.join(
        [str(tests), str(tests / "ops"), os.environ.get("PYTHONPATH", "")]))
    res = subprocess.run([sys.executable, "-c", _CHILD], capture_output=True, text=True, timeout=300, env=env)
    assert res.returncode == 0 and res.stdout.strip().endswith("ok"), res.stdout[-2000:] + res.stderr[-4000:]
