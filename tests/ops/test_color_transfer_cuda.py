"""color_transfer, ColorTransferState and boundary_blend with GPU arrays (cupy, torch):
results of the input's kind and device, agreeing with the host path (color_transfer: the
same bytes, tests/ops/test_color_transfer_parity.py says why they can be)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import ffaccel
from gpu import to_gpu, to_host
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import examples
from test_boundary import _ring_reference
from test_color_transfer_parity import _case_1862, _inputs

pytestmark = pytest.mark.cuda


def _is_gpu_array_of(x, fw: str) -> bool:
    if fw == "cupy":
        import cupy

        return isinstance(x, cupy.ndarray)
    import torch

    return isinstance(x, torch.Tensor) and x.is_cuda


def _case(seed=0):
    rng = np.random.default_rng(seed)
    src = rng.integers(30, 220, (96, 96, 3), dtype=np.uint8)
    ref = np.clip(src.astype(np.int16) + (12, -8, 20), 0, 255).astype(np.uint8)
    mask = np.zeros((96, 96), np.float32)
    mask[10:80, 16:84] = 1
    return src, ref, mask


@pytest.mark.parametrize("method", ["reinhard_lab", "linear_gain", "mkl"])
def test_gpu_agrees_with_host(fw, method):
    src, ref, mask = _case()
    host = ffaccel.color_transfer(src, ref, mask, method=method)
    g = ffaccel.color_transfer(to_gpu(src, fw), to_gpu(ref, fw), to_gpu(mask, fw), method=method)
    assert _is_gpu_array_of(g, fw)
    got = to_host(g)
    assert got.dtype == np.uint8 and got.shape == src.shape
    np.testing.assert_array_equal(got, host)


def test_gpu_fuzz_case_1862_same_bytes(fw):
    # the GPU fuzzer's finding (seed 2026, case 1862): a float32 reinhard_lab crop whose result
    # moves by more than 1e-3 with a few ulps anywhere in the statistics or the Lab maths
    src, ref, mask = _case_1862()
    host = ffaccel.color_transfer(src, ref, mask, "reinhard_lab")
    got = to_host(ffaccel.color_transfer(to_gpu(src, fw), to_gpu(ref, fw), to_gpu(mask, fw), "reinhard_lab"))
    np.testing.assert_array_equal(got.view(np.uint32), host.view(np.uint32))


@settings(max_examples=examples(60), deadline=None)
@given(seed=st.integers(0, 2**32 - 1), h=st.integers(1, 64), w=st.integers(1, 64),
       dtype=st.sampled_from([np.uint8, np.float32]), method=st.sampled_from(["reinhard_lab", "linear_gain", "mkl"]))
def test_gpu_same_bytes_as_host_on_random_crops(fw, seed, h, w, dtype, method):
    src, ref, mask = _inputs(seed, h, w, dtype)
    host = ffaccel.color_transfer(src, ref, mask, method)
    got = to_host(ffaccel.color_transfer(to_gpu(src, fw), to_gpu(ref, fw), to_gpu(mask, fw), method))
    assert got.dtype == host.dtype and got.tobytes() == host.tobytes()


def test_gpu_lab_conversions_same_bytes(fw):
    from ffaccel.ops.color_transfer import bgr_to_lab, lab_to_bgr

    src, _, _ = _inputs(7, 70, 90, np.float32)
    for img in (src, np.rint(src).astype(np.uint8)):
        lab = bgr_to_lab(img)
        np.testing.assert_array_equal(to_host(bgr_to_lab(to_gpu(img, fw))).view(np.uint32), lab.view(np.uint32))
        np.testing.assert_array_equal(to_host(lab_to_bgr(to_gpu(lab, fw))).view(np.uint32),
                                      lab_to_bgr(lab).view(np.uint32))


def test_gpu_state_smooths_like_host(fw):
    src, ref, mask = _case(1)
    hs, gs = ffaccel.ColorTransferState(alpha=0.3, deadband=0.5), ffaccel.ColorTransferState(alpha=0.3, deadband=0.5)
    for k in range(4):
        r = np.clip(ref.astype(int) + 3 * k, 0, 255).astype(np.uint8)
        host = ffaccel.color_transfer(src, r, mask, state=hs, track="a")
        g = ffaccel.color_transfer(to_gpu(src, fw), to_gpu(r, fw), to_gpu(mask, fw), state=gs, track="a")
        np.testing.assert_array_equal(to_host(g), host)


def test_boundary_blend_gpu_matches_host(fw):
    rng = np.random.default_rng(2)
    frame = rng.integers(0, 256, (120, 160, 3), dtype=np.uint8)
    yy, xx = np.mgrid[0:120, 0:160]
    mask = ((((xx - 80) / 50.0) ** 2 + ((yy - 60) / 40.0) ** 2) <= 1).astype(np.float32)
    host = ffaccel.boundary_blend(frame, mask, 5)
    g = ffaccel.boundary_blend(to_gpu(frame, fw), to_gpu(mask, fw), 5)
    assert _is_gpu_array_of(g, fw)
    got = to_host(g)
    # box sums in float64 on both sides; the device may still round a level differently
    assert np.abs(got.astype(int) - host).max() <= 1
    outside = ~_ring_reference(mask, 5)
    np.testing.assert_array_equal(got[outside], frame[outside])  # only the ring may change


def test_torch_results_hold_no_growing_host_memory():
    # The cupy result is handed to torch through DLPack: torch.as_tensor's reader of
    # __cuda_array_interface__ kept references to the interface's values (pytorch issue
    # 194877; +15 MiB over 10^5 boundary_blend calls on the H100). The leaked values are
    # Python objects, so tracemalloc sees them: the second of two 3,000-call windows must
    # not grow it by 64 KiB.
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("torch has no CUDA device")
    import tracemalloc

    from ffaccel._arrays import like_input

    cupy = pytest.importorskip("cupy")
    like = torch.zeros((4, 4), device="cuda")
    arr = cupy.arange(16, dtype=cupy.float32).reshape(4, 4)
    t = like_input(like, arr)
    assert t.data_ptr() == arr.data.ptr and t.device == like.device  # a view, not a copy
    frame, mask = (torch.as_tensor(x, device="cuda") for x in _case(3)[::2])
    for _ in range(50):
        ffaccel.boundary_blend(frame, mask, 3)
    with warnings.catch_warnings(record=True) as caught:  # no warning per call (cupy once
        warnings.simplefilter("always")                  # deprecated ExternalStream and
        for _ in range(3):                               # toDlpack: one each call)
            ffaccel.boundary_blend(frame, mask, 3)
    assert [str(w.message) for w in caught] == []
    # pytest records every warning the test raises: off while measuring, so the figure is
    # the op's own growth, not the recorder's. Two windows of 3,000 calls: caches that fill
    # once (cupy's pool, kernel caches: 136 KB in the first window on the H100) stop in the
    # first, a leak (150 bytes a call, 450 KB a window) grows in both.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tracemalloc.start()
        for _ in range(3000):
            ffaccel.boundary_blend(frame, mask, 3)
        before = tracemalloc.get_traced_memory()[0]
        for _ in range(3000):
            ffaccel.boundary_blend(frame, mask, 3)
        grown = tracemalloc.get_traced_memory()[0] - before
        tracemalloc.stop()
    assert grown < 64 * 1024, f"{grown} bytes of Python objects kept by the second 3,000 calls"
