"""paste_back_insightface on the GPU: the same bytes as the CPU path (which tests/
test_paste_insightface.py checks against insightface's steps), new, out= and in place."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import ffaccel
from ffaccel import _core
from ffaccel.ops.paste_insightface import INSIGHTFACE_COMPAT
from gpu import frameworks, to_gpu, to_host
from insightface_reference import face_matrix
from strategies import examples
from test_paste_insightface import cases, one_pixel_axis_cases

pytestmark = pytest.mark.cuda
FRAMEWORKS = frameworks()
COMPATS = tuple(c for c in INSIGHTFACE_COMPAT if c != "insightface")  # every generation, 4.13's included


@pytest.mark.parametrize("fw", FRAMEWORKS)
@settings(max_examples=examples(80), deadline=None)
@given(case=cases(), compat=st.sampled_from(COMPATS))
def test_gpu_matches_cpu_bytes(fw, case, compat):
    frame, crop, m = case
    cpu = ffaccel.paste_back_insightface(frame, crop, m, compat=compat)
    g = to_gpu(frame, fw)
    gpu = ffaccel.paste_back_insightface(g, to_gpu(crop, fw), m, compat=compat)
    np.testing.assert_array_equal(to_host(gpu), cpu)
    np.testing.assert_array_equal(to_host(g), frame)  # not in place: the frame is untouched


@pytest.mark.parametrize("fw", FRAMEWORKS)
@settings(max_examples=examples(60), deadline=None)
@given(case=one_pixel_axis_cases(), compat=st.sampled_from(COMPATS))
def test_gpu_matches_cpu_bytes_one_pixel_frames(fw, case, compat):
    # Frames 1 pixel wide, high, or 1x1: the blur pass along that axis is the identity
    # (cv2.GaussianBlur sets that kernel size to 1), on the GPU as on the CPU.
    frame, crop, m = case
    cpu = ffaccel.paste_back_insightface(frame, crop, m, compat=compat)
    g = to_gpu(frame, fw)
    np.testing.assert_array_equal(to_host(ffaccel.paste_back_insightface(g, to_gpu(crop, fw), m, compat=compat)), cpu)
    np.testing.assert_array_equal(to_host(g), frame)


@pytest.mark.parametrize("fw", FRAMEWORKS)
@pytest.mark.parametrize("compat", COMPATS)
@pytest.mark.parametrize("h,w,size,angle,cx,cy", [
    (1080, 1920, 380, 20, 960, 540),
    (2160, 3840, 900, -45, 3700, 2000),  # partly off the frame
    (720, 1281, 60, 90, 640, 360),
    (720, 1280, 200, 0, -500, 300),  # wholly off the frame: unchanged
])
def test_large_frames_out_and_in_place(fw, compat, h, w, size, angle, cx, cy):
    rng = np.random.default_rng(h + w)
    frame = rng.integers(0, 256, (h, w, 3), np.uint8)
    crop = rng.integers(0, 256, (128, 128, 3), np.uint8)
    m = face_matrix((cx, cy), size, angle)
    cpu = ffaccel.paste_back_insightface(frame, crop, m, compat=compat)
    g, gc = to_gpu(frame, fw), to_gpu(crop, fw)
    out = to_gpu(np.zeros_like(frame), fw)
    ffaccel.paste_back_insightface(g, gc, m, compat=compat, out=out)
    np.testing.assert_array_equal(to_host(out), cpu)
    ffaccel.paste_back_insightface(g, gc, m, compat=compat, inplace=True)
    np.testing.assert_array_equal(to_host(g), cpu)


def _gpu_view(x: np.ndarray, fw: str, offset: int):
    # x's bytes on the GPU, C-contiguous, starting `offset` bytes into a fresh allocation
    # (offset 0: the allocator's alignment; odd: no 16-byte alignment at all).
    if fw == "torch":
        import torch

        buf = torch.empty(x.size + offset, dtype=torch.uint8, device="cuda")
        v = buf[offset:].view(x.shape)
        v.copy_(torch.from_numpy(np.ascontiguousarray(x)))
        return v
    if fw == "cupy":
        import cupy

        buf = cupy.empty(x.size + offset, dtype=cupy.uint8)
        v = buf[offset:].reshape(x.shape)
        v.set(np.ascontiguousarray(x))
        return v
    pytest.skip("no GPU framework")


@pytest.mark.parametrize("fw", FRAMEWORKS)
@pytest.mark.parametrize("frame_offset,out_offset", [(0, 0), (1, 0), (0, 3), (16, 32)])
@pytest.mark.parametrize("size,angle,cx,cy", [
    (350, 15, 480, 270),  # inside
    (300, 40, 955, 10),  # across a corner: R's rows start at row 0, its columns end at the edge
    (200, 0, -500, 300),  # wholly off the frame: no kernel runs, the frame is copied alone
])
def test_new_frame_every_byte_written(fw, frame_offset, out_offset, size, angle, cx, cy):
    # A new frame is the frame's copy outside the paste area R plus the blend inside it.
    # Aligned frames get that copy on a side stream beside the kernels (copy_outside.cu),
    # unaligned ones from one copy first (kernels/cuda/paste_insightface.cu): out= starts as a sentinel,
    # so a byte neither writes shows. The odd width puts 16-byte chunks across row ends and
    # across R's left and right edges.
    rng = np.random.default_rng(size + frame_offset)
    frame = rng.integers(0, 256, (541, 963, 3), np.uint8)
    crop = rng.integers(0, 256, (128, 128, 3), np.uint8)
    m = face_matrix((cx, cy), size, angle)
    cpu = ffaccel.paste_back_insightface(frame, crop, m)
    g = _gpu_view(frame, fw, frame_offset)
    out = _gpu_view(np.full_like(frame, 77), fw, out_offset)
    assert ffaccel.paste_back_insightface(g, to_gpu(crop, fw), m, out=out) is out
    np.testing.assert_array_equal(to_host(out), cpu)
    np.testing.assert_array_equal(to_host(g), frame)


def test_new_frame_over_two_gigabytes():
    # A frame of 2^31 bytes or more is copied first (the side copy indexes in 32 bits).
    torch = pytest.importorskip("torch")
    if "torch" not in FRAMEWORKS:
        pytest.skip("torch with CUDA is not installed")
    h, w = 23000, 31130  # 2,147,970,000 bytes
    assert h * w * 3 >= 2**31
    frame = np.empty((h, w, 3), np.uint8)
    frame[:] = np.arange(w, dtype=np.uint8)[None, :, None]  # a pattern a shifted copy would break
    frame[::7] = 200
    crop = np.random.default_rng(5).integers(0, 256, (128, 128, 3), np.uint8)
    m = face_matrix((w - 300, h - 200), 700, 30)  # R near the end of the buffer
    cpu = ffaccel.paste_back_insightface(frame, crop, m)
    g = torch.from_numpy(frame).cuda()
    res = ffaccel.paste_back_insightface(g, torch.from_numpy(crop).cuda(), m)
    del g
    assert torch.equal(res, torch.from_numpy(cpu).cuda())


# Sizes and placements for the GPU kernels' index paths (kernels/cuda/paste_insightface.cu):
# the 8-lane and 32-lane erode groups (ke < 32, ke = 32, ke > 32), the row blur's
# shared-memory chunks (128 steps each: r = 102 takes two, the second partial), faces across
# each frame edge and corner, frames lower or narrower than the blur radius (reflections
# that fold more than once), and a right edge with W % 4 and W % 8 != 0 (OpenCV 5's unfused
# tail columns, which a thread's 8 row-blur columns straddle), and frames 1 pixel wide, high
# or both (the row, column or both blur passes are the identity there, as in cv2).
EDGE_CASES = [
    (2160, 3840, 1500, 30, 1900, 1080),  # ke 205, r 102: two row-blur chunks
    (1080, 1920, 500, 10, -120, 540),  # across the left edge
    (1080, 1920, 500, -25, 2010, 500),  # across the right edge
    (1080, 1923, 500, 60, 1850, 500),  # right edge, W % 8 = 3
    (1080, 1917, 420, 5, 1800, 300),  # right edge, W % 4 = 1, W % 8 = 5
    (1080, 1920, 500, 75, 900, -150),  # across the top
    (1081, 1920, 500, 5, 1000, 1180),  # across the bottom
    (1080, 1920, 700, 45, 0, 0),  # a corner
    (1080, 1920, 700, -45, 1919, 1079),  # the opposite corner
    (5, 1919, 40, 0, 900, 2),  # frame lower than r
    (700, 3, 50, 0, 1, 350),  # frame narrower than r
    (300, 1021, 26, 0, 600, 150),  # ke = 10
    (600, 1017, 310, 0, 500, 300),  # ke = 31
    (600, 1017, 320, 0, 500, 300),  # ke = 32
    (90, 1, 70, 37, 0, 45),  # 1 px wide: no row pass
    (1080, 1, 500, 10, 0, 540),  # 1 px wide, column pass over 590 rows of B
    (1, 1919, 70, 20, 1900, 0),  # 1 px high: no column pass; right edge, W % 8 = 7
    (1, 90, 300, 0, 45, 0),  # 1 px high, the face covers the whole row
    (1, 1, 40, 0, 0, 0),  # 1x1: neither pass
]


def _ke_r(h, w, size, angle, cx, cy, warp):
    m = face_matrix((cx, cy), size, angle)
    ext = _core.insightface_extent(np.ascontiguousarray(m.reshape(6)), w, h, 128, 128, warp)
    ms = int(np.sqrt((ext[1] - ext[0]) * (ext[3] - ext[2])))
    return max(ms // 10, 10), max(ms // 20, 5)


@pytest.mark.parametrize("warp", [1, 2])  # OpenCV5, OpenCV4
def test_edge_cases_reach_every_kernel_path(warp):
    # Host only (it runs with the file's GPU tests): the list above must keep covering what
    # its comment says. ke <= 64 fuses the mask into the row erode, ke > 64 does not.
    sizes = [_ke_r(*c, warp) for c in EDGE_CASES]
    kes = {ke for ke, _ in sizes}
    assert min(kes) == 10 and 31 in kes and 32 in kes and max(kes) > 64
    assert max(2 * r + 8 for _, r in sizes) > 128  # two row-blur chunks
    assert any(r >= c[0] for (_, r), c in zip(sizes, EDGE_CASES))  # r >= frame height
    assert any(r >= c[1] for (_, r), c in zip(sizes, EDGE_CASES))  # r >= frame width
    # B reaches the right edge of frames with W % 4 != 0 (OpenCV 5 tails of 1 and 3 row-pass
    # columns, 5 and 3 column-pass columns)
    tails = {c[1] % 8 for c in EDGE_CASES if _box(*c)[2] == c[1] and c[1] % 4}
    assert tails >= {3, 5}
    # and every other edge
    assert any(_box(*c)[0] == 0 for c in EDGE_CASES) and any(_box(*c)[1] == 0 for c in EDGE_CASES)
    assert any(_box(*c)[3] == c[0] and c[0] > 5 for c in EDGE_CASES)
    # frames 1 pixel wide (and higher), 1 pixel high (and wider), and 1x1
    shapes = {(c[0] == 1, c[1] == 1) for c in EDGE_CASES}
    assert {(False, True), (True, False), (True, True)} <= shapes


def _box(h, w, size, angle, cx, cy):
    m = face_matrix((cx, cy), size, angle)
    return _core.insightface_box(np.ascontiguousarray(m.reshape(6)), w, h, 128, 128)


@pytest.mark.parametrize("fw", FRAMEWORKS)
@pytest.mark.parametrize("compat", COMPATS)
@pytest.mark.parametrize("h,w,size,angle,cx,cy", EDGE_CASES)
def test_sizes_and_edges(fw, compat, h, w, size, angle, cx, cy):
    rng = np.random.default_rng(h * 7 + w + size)
    frame = rng.integers(0, 256, (h, w, 3), np.uint8)
    crop = rng.integers(0, 256, (128, 128, 3), np.uint8)
    m = face_matrix((cx, cy), size, angle)
    cpu = ffaccel.paste_back_insightface(frame, crop, m, compat=compat)
    assert (cpu != frame).any()  # the face does reach the frame
    g, gc = to_gpu(frame, fw), to_gpu(crop, fw)
    np.testing.assert_array_equal(to_host(ffaccel.paste_back_insightface(g, gc, m, compat=compat)), cpu)
    ffaccel.paste_back_insightface(g, gc, m, compat=compat, inplace=True)
    np.testing.assert_array_equal(to_host(g), cpu)


@pytest.mark.parametrize("compat", COMPATS)
@pytest.mark.parametrize("h,w,size,angle,cx,cy", [
    (1080, 1920, 300, 20, 960, 540),
    (2160, 3840, 600, 20, 1920, 1080),
    (720, 1280, 400, -30, 1200, 650),  # partly off the frame
])
def test_captured_in_a_cuda_graph(compat, h, w, size, angle, cx, cy):
    # The erode and blur sizes come from the host (the mask's extent from M alone), so the
    # call never synchronises: it captures into a CUDA graph (a read-back or a stream
    # synchronisation inside capture is an error), and each replay pastes the frame and
    # crop the buffers hold at that time, with the matrix given at capture.
    torch = pytest.importorskip("torch")
    if "torch" not in FRAMEWORKS:
        pytest.skip("torch with CUDA is not installed")
    from gpu import capture_torch_graph

    rng = np.random.default_rng(size)
    m = face_matrix((cx, cy), size, angle)
    g = torch.zeros((h, w, 3), dtype=torch.uint8, device="cuda")
    gc = torch.zeros((128, 128, 3), dtype=torch.uint8, device="cuda")
    out = torch.zeros_like(g)
    graph = capture_torch_graph(lambda: ffaccel.paste_back_insightface(g, gc, m, compat=compat, out=out))
    for _ in range(2):
        frame = rng.integers(0, 256, (h, w, 3), np.uint8)
        crop = rng.integers(0, 256, (128, 128, 3), np.uint8)
        g.copy_(torch.from_numpy(frame))
        gc.copy_(torch.from_numpy(crop))
        out.zero_()
        graph.replay()
        torch.cuda.synchronize()
        np.testing.assert_array_equal(out.cpu().numpy(), ffaccel.paste_back_insightface(frame, crop, m, compat=compat))


@pytest.mark.parametrize("fw", FRAMEWORKS)
def test_side_stream_without_host_sync(fw):
    # On a non-default stream whose queue is still busy, the call returns before the GPU is
    # done and the result is right once that stream is synchronised.
    rng = np.random.default_rng(3)
    frame = rng.integers(0, 256, (1080, 1920, 3), np.uint8)
    crop = rng.integers(0, 256, (128, 128, 3), np.uint8)
    m = face_matrix((900, 500), 350, 15)
    cpu = ffaccel.paste_back_insightface(frame, crop, m)
    if fw == "none":
        pytest.skip("no GPU framework")
    if fw == "torch":
        import torch

        s = torch.cuda.Stream()
        with torch.cuda.stream(s):
            g, gc = to_gpu(frame, fw), to_gpu(crop, fw)
            torch.cuda._sleep(50_000_000)  # keep the stream busy
            res = ffaccel.paste_back_insightface(g, gc, m)
            assert not s.query()  # returned without waiting for the GPU
        s.synchronize()
    else:
        import cupy

        s = cupy.cuda.Stream(non_blocking=True)
        with s:
            g, gc = to_gpu(frame, fw), to_gpu(crop, fw)
            res = ffaccel.paste_back_insightface(g, gc, m)
        s.synchronize()
    np.testing.assert_array_equal(to_host(res), cpu)


def test_new_frames_under_threads_and_busy_streams():
    # Eight threads, each on its own stream, call at once with 1080p frames written just
    # before the call on a stream still busy: the frame copy and the kernels must follow
    # that write (a copy enqueued anywhere but the caller's stream, unordered, would read
    # zeros), and every result must be the CPU's bytes.
    torch = pytest.importorskip("torch")
    if "torch" not in FRAMEWORKS:
        pytest.skip("torch with CUDA is not installed")
    from concurrent.futures import ThreadPoolExecutor

    rng = np.random.default_rng(11)
    frames = [rng.integers(0, 256, (1080, 1920, 3), np.uint8) for _ in range(8)]
    crop = rng.integers(0, 256, (128, 128, 3), np.uint8)
    m = face_matrix((900, 520), 400, 25)
    want = [ffaccel.paste_back_insightface(f, crop, m) for f in frames]

    def work(k):
        s = torch.cuda.Stream()
        with torch.cuda.stream(s):
            src, gc = torch.from_numpy(frames[k]).cuda(), torch.from_numpy(crop).cuda()
            res = []
            for _ in range(5):
                g = torch.zeros_like(src)
                torch.cuda._sleep(2_000_000)  # the caller's stream busy, and the frame only
                g.copy_(src)  # written after that: a copy not ordered after it would read zeros
                res.append(ffaccel.paste_back_insightface(g, gc, m))
        s.synchronize()
        return [r.cpu().numpy() for r in res]

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(work, range(8)))
    for k, res in enumerate(results):
        for r in res:
            np.testing.assert_array_equal(r, want[k])
