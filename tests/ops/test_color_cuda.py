"""Linear-light colour ops on the GPU: byte parity with the CPU path, out=, devices, graphs.

Every test here is marked ``cuda`` (tests/conftest.py: run on a GPU machine, skipped
elsewhere); ``fw`` is the conftest fixture, one run per installed GPU framework.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import ffaccel
from gpu import capture_torch_graph, to_gpu, to_host
from strategies import examples

pytestmark = pytest.mark.cuda

# Every float class the curves branch on: both segments, the joins, clamping, NaN.
SPECIALS = np.array([-1.0, -0.0, 0.0, 1e-30, 0.0031308, 0.04045, 0.5, 1.0, 1.5, np.inf, -np.inf, np.nan], np.float32)


def _dense(n: int = 1 << 20) -> np.ndarray:
    grid = np.linspace(-0.05, 1.05, n, dtype=np.float32)
    return np.concatenate([grid, SPECIALS]).reshape(1, -1)


@pytest.mark.parametrize("fast", [False, True])
def test_float_curves_parity(fw, fast):
    x = _dense()
    g = to_gpu(x, fw)
    for fn in (ffaccel.srgb_to_linear, ffaccel.linear_to_srgb):
        np.testing.assert_array_equal(to_host(fn(g, fast=fast)), fn(x, fast=fast))


def test_uint8_table_and_uint8_codes_parity(fw):
    rng = np.random.default_rng(1)
    img = rng.integers(0, 256, (300, 257, 3), dtype=np.uint8)
    np.testing.assert_array_equal(to_host(ffaccel.srgb_to_linear(to_gpu(img, fw))), ffaccel.srgb_to_linear(img))
    x = _dense()
    np.testing.assert_array_equal(to_host(ffaccel.linear_to_srgb(to_gpu(x, fw), dtype=np.uint8)),
                                  ffaccel.linear_to_srgb(x, dtype=np.uint8))


@settings(max_examples=examples(40), deadline=None)
@given(h=st.integers(1, 300), w=st.integers(1, 300), seed=st.integers(0, 2**32 - 1),
       gains=st.tuples(*[st.floats(0.0, 3.0)] * 3), mask_kind=st.sampled_from([None, "float32", "uint8"]))
def test_gain_parity(fw, h, w, seed, gains, mask_kind):
    rng = np.random.default_rng(seed)
    img = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    mask = None
    if mask_kind == "float32":
        mask = (rng.random((h, w)) * 1.4 - 0.2).astype(np.float32)
    elif mask_kind == "uint8":
        mask = rng.integers(0, 256, (h, w), dtype=np.uint8)
    cpu = ffaccel.apply_color_gain_linear(img, gains, mask=mask)
    gpu = ffaccel.apply_color_gain_linear(to_gpu(img, fw), gains, mask=None if mask is None else to_gpu(mask, fw))
    assert type(gpu).__module__.split(".")[0] == fw
    np.testing.assert_array_equal(to_host(gpu), cpu)


def test_gain_out_on_gpu_and_mixed_devices(fw):
    img = np.random.default_rng(2).integers(0, 256, (40, 48, 3), dtype=np.uint8)
    g = to_gpu(img, fw)
    out = to_gpu(np.zeros_like(img), fw)
    assert ffaccel.apply_color_gain_linear(g, (1.2, 1.0, 0.8), out=out) is out
    np.testing.assert_array_equal(to_host(out), ffaccel.apply_color_gain_linear(img, (1.2, 1.0, 0.8)))
    host_out = np.full_like(img, 9)
    with pytest.raises(ValueError, match="out: expected a .* like the input"):
        ffaccel.apply_color_gain_linear(g, (1, 1, 1), out=host_out)
    assert (host_out == 9).all()
    with pytest.raises(ValueError, match="mask: expected .*, got a numpy array in host memory"):
        ffaccel.apply_color_gain_linear(g, (1, 1, 1), mask=np.ones((40, 48), np.float32))
    with pytest.raises(TypeError, match="gains: expected a host array"):
        ffaccel.apply_color_gain_linear(g, to_gpu(np.ones(3, np.float32), fw))


def test_estimate_gains_on_gpu_matches_cpu(fw):
    rng = np.random.default_rng(3)
    src, ref = (rng.integers(0, 256, (128, 128, 3), dtype=np.uint8) for _ in range(2))
    for mask in (rng.random((128, 128)).astype(np.float32), rng.integers(0, 256, (128, 128), dtype=np.uint8)):
        cpu = ffaccel.estimate_color_gains(src, ref, mask)
        gpu = ffaccel.estimate_color_gains(to_gpu(src, fw), to_gpu(ref, fw), to_gpu(mask, fw))
        assert isinstance(gpu, np.ndarray) and gpu.dtype == np.float64 and gpu.shape == (3,)
        np.testing.assert_allclose(gpu, cpu, rtol=1e-9)  # float64 sums in another order
    zero = to_gpu(np.zeros((128, 128), np.float32), fw)
    np.testing.assert_array_equal(ffaccel.estimate_color_gains(to_gpu(src, fw), to_gpu(ref, fw), zero), np.ones(3))
    with pytest.raises(ValueError, match="ref_crop: expected .*, got a numpy array in host memory"):
        ffaccel.estimate_color_gains(to_gpu(src, fw), ref, to_gpu(np.ones((128, 128), np.float32), fw))


def test_gain_graph_capture_replays_with_new_frames():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(4)
    crops = [rng.integers(0, 256, (512, 512, 3), dtype=np.uint8) for _ in range(3)]
    mask = rng.random((512, 512)).astype(np.float32)
    static_in = torch.from_numpy(crops[0]).cuda()
    static_mask = torch.from_numpy(mask).cuda()
    static_out = torch.zeros((512, 512, 3), dtype=torch.uint8, device="cuda")
    graph = capture_torch_graph(
        lambda: ffaccel.apply_color_gain_linear(static_in, (1.1, 0.95, 0.9), mask=static_mask, out=static_out))
    for c in crops[1:]:
        static_in.copy_(torch.from_numpy(c))
        graph.replay()
        torch.cuda.synchronize()
        want = ffaccel.apply_color_gain_linear(c, (1.1, 0.95, 0.9), mask=mask)
        np.testing.assert_array_equal(static_out.cpu().numpy(), want)


def test_taller_than_one_launch_grid(fw):
    # gridDim.y stops at 65535: the launchers split taller images into bands of rows.
    rng = np.random.default_rng(5)
    x = rng.random((70_000, 1), dtype=np.float32)
    np.testing.assert_array_equal(to_host(ffaccel.linear_to_srgb(to_gpu(x, fw))), ffaccel.linear_to_srgb(x))
    img = rng.integers(0, 256, (600_000, 1, 3), dtype=np.uint8)
    mask = rng.random((600_000, 1), dtype=np.float32)
    np.testing.assert_array_equal(
        to_host(ffaccel.apply_color_gain_linear(to_gpu(img, fw), (1.2, 0.9, 1.0), mask=to_gpu(mask, fw))),
        ffaccel.apply_color_gain_linear(img, (1.2, 0.9, 1.0), mask=mask))
