"""warp_affine on the GPU: byte parity with the CPU path, graphs, streams, threads.

Every test here is marked ``cuda`` (tests/conftest.py: run on a GPU machine, skipped
elsewhere); ``fw`` is the conftest fixture, one run per installed GPU framework.
"""

from __future__ import annotations

import threading

import numpy as np
import pytest
from hypothesis import given, settings

import ffaccel
from gpu import capture_torch_graph, synchronize, to_gpu, to_host
from strategies import affine_matrices, border_values, borders, compat_modes, dsizes, examples, images

pytestmark = pytest.mark.cuda


@settings(max_examples=examples(60), deadline=None)
@given(src=images(max_side=160), m=affine_matrices(), dsize=dsizes, border=borders, bval=border_values,
       compat=compat_modes)
def test_gpu_matches_cpu_bytes(fw, src, m, dsize, border, bval, compat):
    cpu = ffaccel.warp_affine(src, m, dsize, border=border, border_value=bval, compat=compat)
    gpu = ffaccel.warp_affine(to_gpu(src, fw), m, dsize, border=border, border_value=bval, compat=compat)
    assert type(gpu).__module__.split(".")[0] == fw
    np.testing.assert_array_equal(to_host(gpu), cpu)


@pytest.mark.parametrize("compat", [None, "opencv5.0", "opencv4"])
def test_face_crops_1080p_parity(fw, compat):
    rng = np.random.default_rng(11)
    frame = rng.integers(0, 256, (1080, 1920, 3), dtype=np.uint8)
    ms = np.stack([np.array([[0.43 * np.cos(a), -0.43 * np.sin(a), -300.0 - 50 * i],
                             [0.43 * np.sin(a), 0.43 * np.cos(a), -100.0 + 30 * i]])
                   for i, a in enumerate(np.linspace(-0.6, 0.6, 40))])
    cpu = ffaccel.warp_affine_batch(frame, ms, (512, 512), compat=compat)
    g = to_gpu(frame, fw)
    gpu_batch = to_host(ffaccel.warp_affine_batch(g, ms, (512, 512), compat=compat))  # 40 > 32: two launches
    np.testing.assert_array_equal(gpu_batch, cpu)
    np.testing.assert_array_equal(to_host(ffaccel.warp_affine(g, ms[5], (512, 512), compat=compat)), cpu[5])


def test_float32_and_planar_parity(fw):
    rng = np.random.default_rng(2)
    for src in (rng.random((300, 400, 3)).astype(np.float32) * 255, rng.integers(0, 256, (300, 400), dtype=np.uint8)):
        m = np.array([[1.7, 0.3, -40.0], [-0.2, 1.6, -33.0]])
        for compat in (None, "opencv5.0", "opencv4"):
            cpu = ffaccel.warp_affine(src, m, (256, 200), border="constant", border_value=17, compat=compat)
            gpu = to_host(ffaccel.warp_affine(to_gpu(src, fw), m, (256, 200), border="constant", border_value=17,
                                              compat=compat))
            np.testing.assert_array_equal(gpu, cpu)


def test_out_on_gpu_is_written_and_returned(fw):
    src = np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    m = np.array([[0.9, 0.1, 2.0], [-0.1, 0.9, 1.0]])
    out = to_gpu(np.zeros((32, 48, 3), np.uint8), fw)
    res = ffaccel.warp_affine(to_gpu(src, fw), m, (48, 32), out=out)
    assert res is out
    np.testing.assert_array_equal(to_host(out), ffaccel.warp_affine(src, m, (48, 32)))


def test_mixed_devices_and_gpu_matrix_are_refused(fw):
    src = np.zeros((16, 16, 3), np.uint8)
    m = np.array([[1.0, 0, 0], [0, 1.0, 0]])
    g = to_gpu(src, fw)
    host_out = np.full((8, 8, 3), 9, np.uint8)
    with pytest.raises(ValueError, match="out: expected a .* like the input"):
        ffaccel.warp_affine(g, m, (8, 8), out=host_out)
    assert (host_out == 9).all()
    with pytest.raises(TypeError, match="matrix: expected a host array"):
        ffaccel.warp_affine(g, to_gpu(m, fw), (8, 8))
    gpu_out = to_gpu(np.zeros((8, 8, 3), np.uint8), fw)
    with pytest.raises(ValueError, match="out: expected a .* like the input"):
        ffaccel.warp_affine(src, m, (8, 8), out=gpu_out)


def test_torch_graph_capture_replays_with_new_frames():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(4)
    frames = [rng.integers(0, 256, (1080, 1920, 3), dtype=np.uint8) for _ in range(3)]
    m = np.array([[0.45, -0.1, -400.0], [0.1, 0.45, -150.0]])
    static_src = torch.from_numpy(frames[0]).cuda()
    static_out = torch.zeros((512, 512, 3), dtype=torch.uint8, device="cuda")
    graph = capture_torch_graph(lambda: ffaccel.warp_affine(static_src, m, (512, 512), out=static_out))
    for f in frames[1:]:
        static_src.copy_(torch.from_numpy(f))
        graph.replay()
        torch.cuda.synchronize()
        np.testing.assert_array_equal(static_out.cpu().numpy(), ffaccel.warp_affine(f, m, (512, 512)))


def test_cupy_stream_capture_replays_with_new_frames():
    cp = pytest.importorskip("cupy")
    rng = np.random.default_rng(5)
    frames = [rng.integers(0, 256, (720, 1280, 3), dtype=np.uint8) for _ in range(3)]
    ms = np.stack([np.array([[0.5, 0.05, -100.0 * i], [-0.05, 0.5, -50.0]]) for i in range(4)])
    stream = cp.cuda.Stream(non_blocking=True)
    with stream:
        static_src = cp.asarray(frames[0])
        static_out = cp.zeros((4, 256, 256, 3), cp.uint8)
        stream.synchronize()
        stream.begin_capture()
        ffaccel.warp_affine_batch(static_src, ms, (256, 256), out=static_out)
        graph = stream.end_capture()
        for f in frames[1:]:
            static_src.set(f, stream=stream)
            graph.launch(stream)
            stream.synchronize()
            np.testing.assert_array_equal(static_out.get(), ffaccel.warp_affine_batch(f, ms, (256, 256)))


def test_runs_on_the_callers_torch_stream():
    torch = pytest.importorskip("torch")
    # The kernel must queue behind work already on the caller's stream: fill the source
    # on a side stream after a long sleep, warp on the same stream, and the result must
    # reflect the fill. (On the default stream it would race and read zeros.)
    src = torch.zeros((256, 256, 3), dtype=torch.uint8, device="cuda")
    torch.cuda.synchronize()
    s = torch.cuda.Stream()
    with torch.cuda.stream(s):
        torch.cuda._sleep(50_000_000)
        src.fill_(123)
        out = ffaccel.warp_affine(src, np.array([[1.0, 0, 0], [0, 1.0, 0]]), (64, 64))
    s.synchronize()
    assert int(out.min()) == 123 and int(out.max()) == 123


def test_concurrent_threads_each_on_own_stream():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(6)
    frames = [rng.integers(0, 256, (540, 960, 3), dtype=np.uint8) for _ in range(8)]
    errors: list[str] = []

    def worker(i: int) -> None:
        try:
            stream = torch.cuda.Stream()
            local = np.random.default_rng(100 + i)
            g = torch.from_numpy(frames[i]).cuda()
            torch.cuda.synchronize()
            with torch.cuda.stream(stream):
                for _ in range(30):
                    m = np.array([[local.uniform(0.3, 1.5), local.uniform(-0.3, 0.3), local.uniform(-300, 0)],
                                  [local.uniform(-0.3, 0.3), local.uniform(0.3, 1.5), local.uniform(-200, 0)]])
                    compat = [None, "opencv5.0", "opencv4"][int(local.integers(0, 3))]
                    got = ffaccel.warp_affine(g, m, (200, 180), compat=compat)
                    stream.synchronize()
                    want = ffaccel.warp_affine(frames[i], m, (200, 180), compat=compat)
                    if not np.array_equal(got.cpu().numpy(), want):
                        errors.append(f"thread {i} mismatch")
        except Exception as exc:  # surfaced below
            errors.append(f"thread {i}: {exc!r}")

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors


def test_status_reports_the_gpu():
    s = ffaccel.status()
    assert s["cuda_built"] and s["gpus"], s
    assert all(g["supported"] for g in s["gpus"]), s["gpus"]
    assert s["driver_version"] != "none"


def test_cuda_error_type():
    assert issubclass(ffaccel.CudaError, RuntimeError)


def test_repeatable_bytes_across_runs(fw):
    rng = np.random.default_rng(9)
    frame = to_gpu(rng.integers(0, 256, (1080, 1920, 3), dtype=np.uint8), fw)
    ms = np.stack([np.array([[0.4, 0.1 * i, -300.0], [-0.1 * i, 0.4, -100.0]]) for i in range(8)])
    first = to_host(ffaccel.warp_affine_batch(frame, ms, (512, 512)))
    for _ in range(5):
        np.testing.assert_array_equal(to_host(ffaccel.warp_affine_batch(frame, ms, (512, 512))), first)
    synchronize(fw)
