"""feather_mask on the GPU: byte parity with the CPU path, out=, devices, streams, graphs.

Every test here is marked ``cuda`` (tests/conftest.py: run on a GPU machine, skipped
elsewhere); ``fw`` is the conftest fixture, one run per installed GPU framework.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import ffaccel
from ffaccel import _core
from ffaccel.ops.feather_mask import MAX_SIGMA, gaussian_taps
from gpu import capture_torch_graph, to_gpu, to_host
from strategies import examples
from test_feather_mask import masks

pytestmark = pytest.mark.cuda
MAX_GPU_WIDTH = _core.FEATHER_MAX_WIDTH  # the shared-memory row of the kernel (kFeatherMaxWidth)


@settings(max_examples=examples(60), deadline=None)
@given(mask=masks(max_side=200), sigma=st.floats(0.05, 40.0))
def test_gpu_matches_cpu_bytes(fw, mask, sigma):
    cpu = ffaccel.feather_mask(mask, sigma)
    gpu = ffaccel.feather_mask(to_gpu(mask, fw), sigma)
    assert type(gpu).__module__.split(".")[0] == fw
    np.testing.assert_array_equal(to_host(gpu), cpu)


# The kernel tiles masks 64 x 16 for radii up to 48 (sigma up to 12) and uses one block per row
# beyond that, or past 65535 tile rows: both sides of each switch are here.
@pytest.mark.parametrize("shape, sigma", [((512, 512), 19.0), ((512, 512), MAX_SIGMA), ((1, 700), 3.0),
                                          ((700, 1), 3.0), ((1, 1), 5.0), ((3, MAX_GPU_WIDTH), 2.5),
                                          ((1080, 1920), 7.0), ((512, 512), 8.0), ((37, 1000), 12.0),
                                          ((37, 1000), 12.1), ((1000, 37), 6.1), ((17, 65), 0.3),
                                          ((16 * 65535, 2), 1.0), ((16 * 65535 + 1, 2), 1.0)])
def test_face_sized_and_edge_shapes_parity(fw, shape, sigma):
    rng = np.random.default_rng(shape[0] * 7 + shape[1])
    for mask in (rng.random(shape).astype(np.float32), rng.integers(0, 256, shape, dtype=np.uint8)):
        cpu = ffaccel.feather_mask(mask, sigma)
        np.testing.assert_array_equal(to_host(ffaccel.feather_mask(to_gpu(mask, fw), sigma)), cpu)


# Every radius the tiled kernel takes (0-48: sigma from its taps' size rule), on a mask whose
# width and height are not multiples of the tile's (64 x 16): each radius has its own last,
# partial chunk of taps in both passes.
@pytest.mark.parametrize("radius", range(0, 49))
def test_every_tile_radius_parity(fw, radius):
    sigma = radius / 4.0 if radius else 0.05  # round(8 sigma + 1) | 1 == 2 radius + 1
    assert len(gaussian_taps(sigma)) == 2 * radius + 1
    rng = np.random.default_rng(radius)
    for mask in (rng.random((45, 131)).astype(np.float32), rng.integers(0, 256, (45, 131), dtype=np.uint8)):
        np.testing.assert_array_equal(to_host(ffaccel.feather_mask(to_gpu(mask, fw), sigma)),
                                      ffaccel.feather_mask(mask, sigma))


def test_box_mask_feathered_on_gpu_matches_cpu(fw):
    box = ffaccel.box_mask(512, 0.0, (5, 5, 10, 5)).copy()  # writable: torch warns on read-only arrays
    cpu = ffaccel.feather_mask(box, 9.5)
    np.testing.assert_array_equal(to_host(ffaccel.feather_mask(to_gpu(box, fw), 9.5)), cpu)


def test_out_on_gpu_is_written_and_returned(fw):
    mask = np.random.default_rng(0).random((64, 80)).astype(np.float32)
    out = to_gpu(np.zeros((64, 80), np.float32), fw)
    assert ffaccel.feather_mask(to_gpu(mask, fw), 3.0, out=out) is out
    np.testing.assert_array_equal(to_host(out), ffaccel.feather_mask(mask, 3.0))


def test_mixed_devices_and_gpu_limits_are_refused(fw):
    mask = np.ones((16, 16), np.float32)
    host_out = np.full((16, 16), 9, np.float32)
    with pytest.raises(ValueError, match="out: expected a .* like the input"):
        ffaccel.feather_mask(to_gpu(mask, fw), 2.0, out=host_out)
    assert (host_out == 9).all()
    gpu_out = to_gpu(np.full((16, 16), 9, np.float32), fw)
    with pytest.raises(ValueError, match="out: expected a .* like the input"):
        ffaccel.feather_mask(mask, 2.0, out=gpu_out)
    assert (to_host(gpu_out) == 9).all()
    with pytest.raises(ValueError, match="mask: expected at most 12288 pixels wide on the GPU"):
        ffaccel.feather_mask(to_gpu(np.ones((2, MAX_GPU_WIDTH + 1), np.float32), fw), 1.0)


def test_runs_on_the_callers_torch_stream():
    torch = pytest.importorskip("torch")
    # Fill the mask on a side stream after a long sleep and blur on that stream: the
    # blur must see the fill (on another stream it would race and read zeros).
    mask = torch.zeros((128, 128), dtype=torch.float32, device="cuda")
    torch.cuda.synchronize()
    s = torch.cuda.Stream()
    with torch.cuda.stream(s):
        torch.cuda._sleep(50_000_000)
        mask.fill_(0.5)
        out = ffaccel.feather_mask(mask, 4.0)
    s.synchronize()
    assert abs(float(out.min()) - 0.5) < 1e-6 and abs(float(out.max()) - 0.5) < 1e-6


def test_torch_graph_capture_replays_with_new_masks():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(4)
    masks_host = [rng.random((256, 256)).astype(np.float32) for _ in range(3)]
    static_in = torch.from_numpy(masks_host[0]).cuda()
    static_out = torch.zeros((256, 256), dtype=torch.float32, device="cuda")
    graph = capture_torch_graph(lambda: ffaccel.feather_mask(static_in, 6.0, out=static_out))
    for m in masks_host[1:]:
        static_in.copy_(torch.from_numpy(m))
        graph.replay()
        torch.cuda.synchronize()
        np.testing.assert_array_equal(static_out.cpu().numpy(), ffaccel.feather_mask(m, 6.0))
