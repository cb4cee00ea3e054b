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


# ------------------------------------------- a new frame: the copy outside the faces' areas
# The kernel copies a new frame's bytes outside the union of the paste areas a warp per
# piece of a row, in the widest words that frame and out's relative offset allows (16, 8,
# 4 or 1 bytes), unaligned ends byte by byte; the area's pixels are copied by their own
# blend threads. These cases put that split where it can go wrong: odd row lengths and
# offsets, areas touching the frame's edges or covering it, none, rows cut into several
# pieces, padded and negative strides.

FACE_SIZE = 48


def _face_matrices(w: int, h: int, places: list[str]) -> np.ndarray:
    """Frame -> crop matrices putting a FACE_SIZE crop at each named place."""
    rows = []
    for where in places:
        s, x0, y0 = {
            "middle": (1.1, w * 0.3, h * 0.25),
            "top_left": (0.9, -7.3, -5.1),  # the area is clipped at x = 0 and y = 0
            "bottom_right": (0.9, w - FACE_SIZE / 0.9 + 6.2, h - FACE_SIZE / 0.9 + 4.7),  # ... at x = w, y = h
            "whole": (FACE_SIZE / (max(w, h) + 20.0), -10.0, -10.0),  # the area is the whole frame
            "off": (1.0, w + 100.0, h + 100.0),  # misses the frame
        }[where]
        a = s * np.array([[np.cos(0.02), -np.sin(0.02)], [np.sin(0.02), np.cos(0.02)]])  # a slight turn
        rows.append(np.hstack([a, -a @ np.array([[x0], [y0]])]))  # frame (x0, y0) -> crop (0, 0)
    return np.array(rows)


PLACES = [["middle"], ["top_left"], ["bottom_right"], ["whole"], ["off"], ["off", "middle"],
          ["top_left", "middle", "bottom_right"], ["middle", "top_left"]]


def _faces(rng, n: int, c: int) -> tuple[np.ndarray, np.ndarray]:
    crops = rng.integers(0, 256, (n, FACE_SIZE, FACE_SIZE, c), dtype=np.uint8)
    masks = rng.random((n, FACE_SIZE, FACE_SIZE)).astype(np.float32)
    masks[:, :6] = 0.0  # rows the blend leaves as copied
    return crops, masks


@pytest.mark.parametrize("shape", [(37, 331, 3), (90, 1500, 4), (5, 7, 3), (1, 64, 3), (64, 1, 4)])
@pytest.mark.parametrize("frame_at, out_at", [(0, 0), (16, 48), (3, 3), (0, 8), (4, 0), (1, 0), (5, 2)])
def test_new_frame_at_any_offset(fw, shape, frame_at, out_at):
    """frame and out start `frame_at` / `out_at` bytes into device buffers: relative offsets
    0, 8, 4 and odd, absolute ones aligned or not; bytes around out are left alone."""
    rng = np.random.default_rng(21)
    h, w, c = shape
    size = h * w * c
    frame = rng.integers(0, 256, shape, dtype=np.uint8)
    fbuf = np.zeros(size + 64, np.uint8)
    fbuf[frame_at:frame_at + size] = frame.ravel()
    obuf = rng.integers(0, 256, size + 64, dtype=np.uint8)
    gf, go = to_gpu(fbuf, fw), to_gpu(obuf, fw)
    g_frame, g_out = gf[frame_at:frame_at + size].reshape(shape), go[out_at:out_at + size].reshape(shape)
    for places in PLACES:
        crops, masks = _faces(rng, len(places), c)
        ms = _face_matrices(w, h, places)
        want = ffaccel.paste_back_batch(frame, crops, masks, ms)
        res = ffaccel.paste_back_batch(g_frame, to_gpu(crops, fw), to_gpu(masks, fw), ms, out=g_out)
        assert res is g_out
        got = to_host(go)
        np.testing.assert_array_equal(got[out_at:out_at + size].reshape(shape), want, err_msg=str(places))
        np.testing.assert_array_equal(got[:out_at], obuf[:out_at])
        np.testing.assert_array_equal(got[out_at + size:], obuf[out_at + size:])
        np.testing.assert_array_equal(to_host(gf), fbuf)


def _rows(rng, h: int, row_bytes: int, pad: int, flip: bool, at: int) -> tuple[np.ndarray, int, int]:
    """A random byte buffer holding h rows of row_bytes, `pad` bytes apart beyond them,
    the first row `at` bytes in (the last row's place when flipped: a negative stride).
    Returns (buffer, first row's offset, stride)."""
    stride = row_bytes + pad
    buf = rng.integers(0, 256, at + (h - 1) * stride + row_bytes + 16, dtype=np.uint8)
    return buf, at + ((h - 1) * stride if flip else 0), -stride if flip else stride


def _image_of(buf: np.ndarray, first: int, stride: int, h: int, row_bytes: int) -> np.ndarray:
    """The h rows of a _rows buffer, top row first."""
    return np.stack([buf[first + y * stride:first + y * stride + row_bytes] for y in range(h)])


@pytest.mark.parametrize("c", [3, 4])
@pytest.mark.parametrize("frame_rows, out_rows", [((5, False, 0), (3, True, 0)), ((0, True, 2), (0, False, 0)),
                                                  ((16, False, 0), (7, False, 1)), ((0, False, 4), (16, True, 4)),
                                                  ((2, True, 0), (2, True, 0))])
def test_new_frame_padded_and_negative_strides(fw, c, frame_rows, out_rows):
    """The kernel takes any row strides (the Python API passes C-contiguous arrays only):
    _core.PasteCall on the CPU and the GPU, on the same layouts; the whole out buffer,
    padding between rows included, must come out the same."""
    from ffaccel import _arrays, _core, _fast

    rng = np.random.default_rng(22)
    u8, f32 = _core.DType.U8, _core.DType.F32
    for h, w in ((41, 333), (60, 1400)):
        rb = w * c
        fbuf, f_first, f_stride = _rows(rng, h, rb, *frame_rows)
        obuf, o_first, o_stride = _rows(rng, h, rb, *out_rows)
        places = ["top_left", "middle", "off"]
        crops, masks = _faces(rng, len(places), c)
        ms = _face_matrices(w, h, places)
        n = len(places)
        ci = _core.Image(0, FACE_SIZE, FACE_SIZE, c, FACE_SIZE * c, crops[0].nbytes, u8)
        mi = _core.Image(0, FACE_SIZE, FACE_SIZE, 1, FACE_SIZE * 4, masks[0].nbytes, f32)

        def call(device: int, fb, ob, cr, mk, stream: int) -> None:
            fi = _core.Image(0, h, w, c, f_stride, 0, u8)
            oi = _core.Image(0, h, w, c, o_stride, 0, u8)
            # The binding's overlap test looks at [pointer, pointer + bytes): with a negative
            # stride the image lies below its pointer, so pass the first row's bytes (the
            # buffers are separate allocations).
            paste = _core.PasteCall(fi, oi, ci, mi, n, True, 0, False, False, device, rb, crops.nbytes, masks.nbytes)
            ptr = [_arrays.view(a, "a").ptr for a in (fb, cr, mk, ob)]
            assert paste(ptr[0] + f_first, ptr[1], ptr[2], ptr[3] + o_first, ms, stream) == 0

        want = obuf.copy()
        call(-1, fbuf, want, crops, masks, 0)
        frame = _image_of(fbuf, f_first, f_stride, h, rb).reshape(h, w, c)  # the layouts read as meant
        np.testing.assert_array_equal(_image_of(want, o_first, o_stride, h, rb).reshape(h, w, c),
                                      ffaccel.paste_back_batch(frame, crops, masks, ms))
        gf, go, gc, gm = to_gpu(fbuf, fw), to_gpu(obuf, fw), to_gpu(crops, fw), to_gpu(masks, fw)  # alive until read
        view = _arrays.view(gf, "frame")
        call(view.device, gf, go, gc, gm, _fast.stream_reader(view.kind, view.device)())
        np.testing.assert_array_equal(to_host(go), want, err_msg=f"{h}x{w}")
        np.testing.assert_array_equal(to_host(gf), fbuf)
        assert not np.array_equal(want, obuf)  # the call did write


@pytest.mark.parametrize("n", [5, 36])
def test_1080p_batch_new_frame(fw, n):
    """One launch group (5 faces, two at the frame's edges) and two (36): the first group
    copies and pastes into the new frame, the second pastes over it in place."""
    rng = np.random.default_rng(23)
    frame = rng.integers(0, 256, (1080, 1920, 3), dtype=np.uint8)
    crops, masks = _faces(rng, n, 3)
    places = ["top_left", "bottom_right"] + ["middle"] * (n - 2)
    ms = _face_matrices(1920, 1080, places)
    ms[2:, :, 2] += rng.uniform(-600, 600, (n - 2, 2))  # spread the middle faces
    want = ffaccel.paste_back_batch(frame, crops, masks, ms)
    g = to_gpu(frame, fw)
    got = ffaccel.paste_back_batch(g, to_gpu(crops, fw), to_gpu(masks, fw), ms)
    np.testing.assert_array_equal(to_host(got), want)
    np.testing.assert_array_equal(to_host(g), frame)
