"""mask_hysteresis, seam_ring and MaskHysteresis on the GPU: byte parity with the CPU path.

Every test here is marked ``cuda`` (tests/conftest.py: run on a GPU machine, skipped
elsewhere); ``fw`` is the conftest fixture, one run per installed GPU framework.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import ffaccel
from gpu import to_gpu, to_host
from strategies import examples
from test_hysteresis import _moving_face_masks, mask_pairs, rois

pytestmark = pytest.mark.cuda


@settings(max_examples=examples(60), deadline=None)
@given(pair=mask_pairs(max_side=80), data=st.data())
def test_gpu_matches_cpu_bytes_full_and_roi(fw, pair, data):
    mask, prev, t_in, t_out = pair
    roi = data.draw(rois(*mask.shape))
    gm, gp = to_gpu(mask, fw), to_gpu(prev, fw)
    for box in (None, roi):
        cpu = ffaccel.mask_hysteresis(mask, prev, t_in=t_in, t_out=t_out, roi=box)
        gpu = ffaccel.mask_hysteresis(gm, gp, t_in=t_in, t_out=t_out, roi=box)
        assert type(gpu).__module__.split(".")[0] == fw
        np.testing.assert_array_equal(to_host(gpu), cpu)


@pytest.mark.parametrize("dtype", [np.uint8, np.float32])
def test_in_place_roi_launch_on_gpu(fw, dtype):
    rng = np.random.default_rng(3)
    scale = 255 if dtype == np.uint8 else 1
    prev = (rng.random((512, 512)) * scale).astype(dtype)
    mask = (rng.random((512, 512)) * scale).astype(dtype)
    roi = (100, 37, 300, 411)
    want = ffaccel.mask_hysteresis(mask, prev, t_in=0.3 * scale, t_out=0.2 * scale, roi=roi)
    for target in ("mask", "prev"):  # out=mask launches over the box alone; out=prev over everything
        gm, gp = to_gpu(mask, fw), to_gpu(prev, fw)
        buf = gm if target == "mask" else gp
        assert ffaccel.mask_hysteresis(gm, gp, t_in=0.3 * scale, t_out=0.2 * scale, roi=roi, out=buf) is buf
        np.testing.assert_array_equal(to_host(buf), want)
    gm = to_gpu(mask, fw)  # an empty box with out=mask launches nothing and changes nothing
    ffaccel.mask_hysteresis(gm, to_gpu(prev, fw), t_in=0, t_out=0, roi=(5, 5, 0, 0), out=gm)
    np.testing.assert_array_equal(to_host(gm), mask)


@pytest.mark.parametrize("dtype", [np.uint8, np.float32])
def test_seam_ring_parity(fw, dtype):
    masks = _moving_face_masks(3, 7, dtype)
    scale = 255.0 if dtype == np.uint8 else 1.0
    for m in masks:
        for lo, hi in ((0.0, scale), (0.1 * scale, 0.9 * scale)):
            ring_c, box_c = ffaccel.seam_ring(m, lo, hi)
            ring_g, box_g = ffaccel.seam_ring(to_gpu(m, fw), lo, hi)
            assert type(ring_g).__module__.split(".")[0] == fw
            np.testing.assert_array_equal(to_host(ring_g), ring_c)
            assert box_g == box_c and box_c is not None
    ring_g, box_g = ffaccel.seam_ring(to_gpu(np.zeros((8, 8), dtype), fw), 0.0, scale)
    assert box_g is None and not to_host(ring_g).any()


@pytest.mark.parametrize("dtype", [np.uint8, np.float32])
def test_tracker_gpu_sequence_equals_cpu_sequence(fw, dtype):
    masks = _moving_face_masks(15, 8, dtype)
    scale = 1.0 if dtype == np.float32 else 255.0
    kwargs = dict(t_in=0.05 * scale, t_out=0.04 * scale, ring=(0.02 * scale, 0.98 * scale))
    cpu_track, gpu_track = ffaccel.MaskHysteresis(**kwargs), ffaccel.MaskHysteresis(**kwargs)
    for m in masks:
        cpu = cpu_track.update(m)
        gpu = gpu_track.update(to_gpu(m, fw))
        assert type(gpu).__module__.split(".")[0] == fw
        np.testing.assert_array_equal(to_host(gpu), cpu)
    with pytest.raises(ValueError, match="mask: expected .* call reset"):
        gpu_track.update(masks[0])  # a host mask after GPU frames
    gpu_track.reset()
    assert isinstance(gpu_track.update(masks[0]), np.ndarray)


def test_mixed_devices_are_refused_and_nothing_is_written(fw):
    mask = np.zeros((16, 16), np.float32)
    host_prev = np.full((16, 16), 0.5, np.float32)
    gm = to_gpu(mask, fw)
    with pytest.raises(ValueError, match="prev: expected a .* like"):
        ffaccel.mask_hysteresis(gm, host_prev, t_in=0, t_out=0)
    with pytest.raises(ValueError, match="out: expected a .* like the input"):
        ffaccel.mask_hysteresis(gm, to_gpu(host_prev, fw), t_in=0, t_out=0, out=host_prev)
    assert (host_prev == 0.5).all()
