"""composite on the GPU: byte parity with the CPU path, out= and in-place, streams, devices.

Every test here is marked ``cuda`` (tests/conftest.py: run on a GPU machine, skipped
elsewhere); ``fw`` is the conftest fixture, one run per installed GPU framework.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings

import ffaccel
from gpu import synchronize, to_gpu, to_host
from strategies import examples
from test_composite import bands, composite_inputs, feathers

pytestmark = pytest.mark.cuda


@settings(max_examples=examples(60), deadline=None)
@given(inputs=composite_inputs(max_side=96), band=bands, feather=feathers)
def test_gpu_matches_cpu_bytes(fw, inputs, band, feather):
    fg, bg, alpha = inputs
    cpu = ffaccel.composite(fg, bg, alpha, band=band, band_feather=feather)
    gpu = ffaccel.composite(to_gpu(fg, fw), to_gpu(bg, fw), to_gpu(alpha, fw), band=band, band_feather=feather)
    assert type(gpu).__module__.split(".")[0] == fw
    np.testing.assert_array_equal(to_host(gpu), cpu)


@pytest.mark.parametrize("channels", [3, 4])
def test_1080p_parity_every_alpha_kind(fw, channels):
    rng = np.random.default_rng(channels)
    fg, bg = (rng.integers(0, 256, (1080, 1920, channels), dtype=np.uint8) for _ in range(2))
    alpha_u8 = rng.integers(0, 256, (1080, 1920), dtype=np.uint8)
    alpha_f32 = rng.uniform(-0.05, 1.05, (1080, 1920)).astype(np.float32)
    alpha_f32[::97, ::89] = np.nan  # NaN counts as 0 on both sides
    gfg, gbg = to_gpu(fg, fw), to_gpu(bg, fw)
    for alpha in (alpha_u8, alpha_f32):
        for band, feather in (((30, 225), 0.15), ((0, 255), 1.0), (None, 0.15)):
            cpu = ffaccel.composite(fg, bg, alpha, band=band, band_feather=feather)
            gpu = ffaccel.composite(gfg, gbg, to_gpu(alpha, fw), band=band, band_feather=feather)
            np.testing.assert_array_equal(to_host(gpu), cpu)


def test_out_on_gpu_and_in_place(fw):
    rng = np.random.default_rng(0)
    fg, bg = (rng.integers(0, 256, (70, 90, 3), dtype=np.uint8) for _ in range(2))
    alpha = rng.random((70, 90)).astype(np.float32)
    want = ffaccel.composite(fg, bg, alpha)
    gfg, galpha = to_gpu(fg, fw), to_gpu(alpha, fw)
    out = to_gpu(np.zeros_like(fg), fw)
    assert ffaccel.composite(gfg, to_gpu(bg, fw), galpha, out=out) is out
    np.testing.assert_array_equal(to_host(out), want)
    gbg = to_gpu(bg, fw)
    assert ffaccel.composite(gfg, gbg, galpha, out=gbg) is gbg  # composite into the frame
    np.testing.assert_array_equal(to_host(gbg), want)


def test_runs_on_the_current_stream(fw):
    rng = np.random.default_rng(1)
    fg, bg = (rng.integers(0, 256, (720, 1280, 3), dtype=np.uint8) for _ in range(2))
    alpha = rng.integers(0, 256, (720, 1280), dtype=np.uint8)
    want = ffaccel.composite(fg, bg, alpha)
    gfg, gbg, ga = to_gpu(fg, fw), to_gpu(bg, fw), to_gpu(alpha, fw)
    synchronize(fw)
    if fw == "cupy":
        import cupy

        stream = cupy.cuda.Stream(non_blocking=True)
        with stream:
            got = ffaccel.composite(gfg, gbg, ga)
        stream.synchronize()
    else:
        import torch

        stream = torch.cuda.Stream()
        with torch.cuda.stream(stream):
            got = ffaccel.composite(gfg, gbg, ga)
        stream.synchronize()
    np.testing.assert_array_equal(to_host(got), want)


def test_mixed_devices_are_refused_and_nothing_is_written(fw):
    fg = np.zeros((16, 16, 3), np.uint8)
    alpha = np.zeros((16, 16), np.uint8)
    gfg, ga = to_gpu(fg, fw), to_gpu(alpha, fw)
    host_bg = np.full((16, 16, 3), 9, np.uint8)
    with pytest.raises(ValueError, match="bg: expected a .* like"):
        ffaccel.composite(gfg, host_bg, ga, out=host_bg)
    with pytest.raises(ValueError, match="alpha: expected a .* like"):
        ffaccel.composite(gfg, to_gpu(host_bg, fw), alpha)
    with pytest.raises(ValueError, match="out: expected a .* like the input"):
        ffaccel.composite(gfg, to_gpu(host_bg, fw), ga, out=host_bg)
    assert (host_bg == 9).all()
