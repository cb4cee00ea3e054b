"""Hostile inputs (read-only memory, overlap, odd scalars): every public op, one table.

Each op with an output gets: a read-only ``out`` (plain, ``np.memmap`` opened read-only,
an array over ``bytes``) refused with a named ValueError and left unchanged; ``out``
overlapping each input refused with nothing written; read-only inputs accepted and
untouched. Ops without an output get: read-only inputs accepted and untouched, and
inputs that share memory giving the same bytes as separate copies.
"""

from __future__ import annotations

import numpy as np
import pytest

import ffaccel
from ffaccel.ops.paste_back import paste_areas
from fuzz import values as V

RNG = np.random.default_rng(21)
FRAME = RNG.integers(0, 256, (24, 28, 3), dtype=np.uint8)
CROP = RNG.integers(0, 256, (12, 12, 3), dtype=np.uint8)
MASK = np.clip(RNG.random((12, 12)) * 1.4 - 0.2, 0, 1).astype(np.float32)
M = np.array([[1.0, 0.0, -6.0], [0.0, 1.0, -5.0]])
M_IF = np.array([[0.5, 0.0, -2.0], [0.0, 0.5, -3.0]])  # frame -> 12x12 crop: insightface's M, inside the frame
BIG_MASK = np.clip(RNG.random((24, 28)) * 1.4 - 0.2, 0, 1).astype(np.float32)
LIN = RNG.random((24, 28, 3)).astype(np.float32)

# name -> (inputs, call(inputs, out) -> result, out shape, out dtype)
OUT_OPS = {
    "warp_affine": ({"src": FRAME}, lambda a, out: ffaccel.warp_affine(a["src"], M, (12, 12), out=out),
                    (12, 12, 3), np.uint8),
    "warp_affine_batch": ({"src": FRAME}, lambda a, out: ffaccel.warp_affine_batch(a["src"], np.stack([M, M]),
                                                                                   (12, 12), out=out),
                          (2, 12, 12, 3), np.uint8),
    "paste_back": ({"frame": FRAME, "crop": CROP, "mask": MASK},
                   lambda a, out: ffaccel.paste_back(a["frame"], a["crop"], a["mask"], M, out=out), (24, 28, 3), np.uint8),
    "paste_back_multiband": ({"frame": FRAME, "crop": CROP, "mask": MASK},
                             lambda a, out: ffaccel.paste_back(a["frame"], a["crop"], a["mask"], M, out=out,
                                                               blend="multiband", levels=2), (24, 28, 3), np.uint8),
    "paste_back_batch": ({"frame": FRAME, "crops": np.stack([CROP, CROP]), "masks": np.stack([MASK, MASK])},
                         lambda a, out: ffaccel.paste_back_batch(a["frame"], a["crops"], a["masks"], np.stack([M, M]),
                                                                 out=out), (24, 28, 3), np.uint8),
    "composite": ({"fg": FRAME, "bg": FRAME[::-1].copy(), "alpha": BIG_MASK},
                  lambda a, out: ffaccel.composite(a["fg"], a["bg"], a["alpha"], out=out), (24, 28, 3), np.uint8),
    "feather_mask": ({"mask": BIG_MASK}, lambda a, out: ffaccel.feather_mask(a["mask"], 1.5, out=out), (24, 28),
                     np.float32),
    "srgb_to_linear": ({"img": FRAME}, lambda a, out: ffaccel.srgb_to_linear(a["img"], out=out), (24, 28, 3),
                       np.float32),
    "linear_to_srgb": ({"img": LIN}, lambda a, out: ffaccel.linear_to_srgb(a["img"], dtype=np.uint8, out=out),
                       (24, 28, 3), np.uint8),
    "apply_color_gain_linear": ({"img": FRAME, "mask": BIG_MASK},
                                lambda a, out: ffaccel.apply_color_gain_linear(a["img"], (1.2, 0.8, 1.0), mask=a["mask"],
                                                                               out=out), (24, 28, 3), np.uint8),
    "mask_hysteresis": ({"mask": BIG_MASK, "prev": BIG_MASK[::-1].copy()},
                        lambda a, out: ffaccel.mask_hysteresis(a["mask"], a["prev"], t_in=0.1, t_out=0.1, out=out),
                        (24, 28), np.float32),
    "boundary_blend": ({"frame": FRAME, "mask": BIG_MASK},
                       lambda a, out: ffaccel.boundary_blend(a["frame"], a["mask"], 3, out=out), (24, 28, 3), np.uint8),
    # a 24-px face (12x12 crop at half scale) inside the frame; a named generation, so the
    # table runs under every installed cv2
    "paste_back_insightface": ({"frame": FRAME, "crop": CROP},
                               lambda a, out: ffaccel.paste_back_insightface(a["frame"], a["crop"], M_IF,
                                                                             compat="insightface-opencv5", out=out),
                               (24, 28, 3), np.uint8),
}
NO_OUT_OPS = {
    "box_mask": ({}, lambda a: ffaccel.box_mask(16, 0.3, 5)),
    "estimate_color_gains": ({"src": FRAME, "ref": FRAME[::-1].copy(), "mask": BIG_MASK},
                             lambda a: ffaccel.estimate_color_gains(a["src"], a["ref"], a["mask"])),
    "seam_ring": ({"mask": BIG_MASK}, lambda a: ffaccel.seam_ring(a["mask"], 0.1, 0.9)),
    "MaskHysteresis": ({"m1": BIG_MASK, "m2": BIG_MASK[::-1].copy()},
                       lambda a: _track(a["m1"], a["m2"])),
    "color_transfer": ({"src": FRAME, "ref": FRAME[::-1].copy(), "mask": BIG_MASK},
                       lambda a: ffaccel.color_transfer(a["src"], a["ref"], a["mask"], "mkl")),
    "paste_areas": ({}, lambda a: paste_areas((28, 24), (12, 12), M)),
}


def _track(m1, m2):
    t = ffaccel.MaskHysteresis(t_in=0.05, t_out=0.05)
    t.update(m1)
    return t.update(m2)


def _read_only(kind: str, a: np.ndarray) -> np.ndarray:
    if kind == "flag":
        b = a.copy()
        b.flags.writeable = False
        return b
    return V.read_only_memmap(a) if kind == "memmap" else V.bytes_backed(a)


def _bytes(res):
    if isinstance(res, tuple):
        return tuple(_bytes(r) for r in res)
    return res.tobytes() if isinstance(res, np.ndarray) else res


@pytest.mark.parametrize("kind", ["flag", "memmap", "bytes"])
@pytest.mark.parametrize("op", sorted(OUT_OPS))
def test_read_only_out_is_refused_and_unchanged(op, kind):
    inputs, call, shape, dtype = OUT_OPS[op]
    out = _read_only(kind, np.full(shape, 7, dtype))
    before = out.tobytes()
    with pytest.raises(ValueError, match="^out: expected a writeable array"):
        call(dict(inputs), out)
    assert out.tobytes() == before


@pytest.mark.parametrize("kind", ["flag", "memmap", "bytes"])
@pytest.mark.parametrize("op", sorted(OUT_OPS) + sorted(NO_OUT_OPS))
def test_read_only_inputs_are_read_and_left_alone(op, kind):
    inputs, call = (OUT_OPS[op][0], lambda a: OUT_OPS[op][1](a, None)) if op in OUT_OPS else NO_OUT_OPS[op]
    want = _bytes(call(dict(inputs)))
    ro = {k: _read_only(kind, v) for k, v in inputs.items()}
    before = {k: v.tobytes() for k, v in ro.items()}
    assert _bytes(call(ro)) == want
    assert {k: v.tobytes() for k, v in ro.items()} == before


@pytest.mark.parametrize("op", sorted(OUT_OPS))
def test_out_overlapping_any_input_is_refused_and_nothing_is_written(op):
    inputs, call, shape, dtype = OUT_OPS[op]
    n = int(np.prod(shape)) * np.dtype(dtype).itemsize
    for name, arr in inputs.items():
        # A buffer whose tail is the input and whose head is `out`: they share bytes.
        pool = np.zeros(n + arr.nbytes, np.uint8)
        inp = pool[n - 1:n - 1 + arr.nbytes].view(arr.dtype).reshape(arr.shape) if arr.dtype == np.uint8 else None
        if inp is None:  # float inputs: keep alignment, overlap by one element
            step = arr.dtype.itemsize
            pool = np.zeros(n + arr.nbytes, np.uint8)
            inp = pool[n - step:n - step + arr.nbytes].view(arr.dtype).reshape(arr.shape)
        inp[...] = arr
        out = pool[:n].view(dtype).reshape(shape)
        a = dict(inputs)
        a[name] = inp
        before = pool.tobytes()
        with pytest.raises(ValueError, match=f"^out: expected memory apart from {name}"):
            call(a, out)
        assert pool.tobytes() == before, name


@pytest.mark.parametrize("op", sorted(NO_OUT_OPS))
def test_inputs_sharing_memory_give_the_same_bytes(op):
    inputs, call = NO_OUT_OPS[op]
    if len(inputs) < 2:
        pytest.skip(f"{op} takes fewer than two arrays")
    want = _bytes(call(dict(inputs)))
    first = next(iter(inputs))
    shared = {k: (inputs[first] if v is inputs[first] or (v.shape == inputs[first].shape and
                                                           v.dtype == inputs[first].dtype) else v)
              for k, v in inputs.items()}
    same = _bytes(call(shared))
    copies = _bytes(call({k: v.copy() for k, v in shared.items()}))
    assert same == copies
    assert want is not None


def test_inplace_paste_and_boundary_refuse_read_only_frames():
    for kind in ("flag", "memmap", "bytes"):
        f = _read_only(kind, FRAME)
        with pytest.raises(ValueError, match="^frame: expected a writeable array"):
            ffaccel.paste_back(f, np.full((16, 16, 3), 200, np.uint8), np.ones((16, 16), np.float32),
                               np.array([[1.0, 0, -10], [0, 1, -10]]), inplace=True)
        with pytest.raises(ValueError, match="^frame: expected a writeable array"):
            ffaccel.paste_back_batch(f, CROP[None], MASK[None], M[None], inplace=True)
        with pytest.raises(ValueError, match="^frame: expected a writeable array"):
            ffaccel.boundary_blend(f, BIG_MASK, 3, inplace=True)
        assert f.tobytes() == FRAME.tobytes()


def test_composite_and_hysteresis_may_write_over_an_input_itself():
    fg, bg = FRAME.copy(), FRAME[::-1].copy()
    want = ffaccel.composite(fg, bg, BIG_MASK)
    assert ffaccel.composite(fg, bg, BIG_MASK, out=bg) is bg
    np.testing.assert_array_equal(bg, want)
    m, p = BIG_MASK.copy(), BIG_MASK[::-1].copy()
    want = ffaccel.mask_hysteresis(m, p, t_in=0.1, t_out=0.1)
    ffaccel.mask_hysteresis(m, p, t_in=0.1, t_out=0.1, out=p)
    np.testing.assert_array_equal(p, want)


def test_gain_out_overlapping_the_mask_is_refused():  # issue 21, finding 2
    pool = np.zeros(8 * 8 * 3 + 8 * 8 * 4, np.uint8)
    out = pool[:192].reshape(8, 8, 3)
    mask = pool[188:188 + 256].view(np.float32).reshape(8, 8)
    mask[...] = 0.5
    before = pool.tobytes()
    with pytest.raises(ValueError, match="^out: expected memory apart from mask"):
        ffaccel.apply_color_gain_linear(np.full((8, 8, 3), 100, np.uint8), (2, 2, 2), mask=mask, out=out)
    assert pool.tobytes() == before


HUGE = 10 ** 400


@pytest.mark.parametrize("call, exc, prefix", [
    (lambda: ffaccel.feather_mask(BIG_MASK, HUGE), ValueError, "sigma:"),                       # finding 4
    (lambda: ffaccel.warp_affine(FRAME, [[1, 0, HUGE], [0, 1, 0]], (8, 8)), ValueError, "matrix:"),
    (lambda: ffaccel.warp_affine(FRAME, M, (8, 8), border="constant", border_value=HUGE), ValueError, "border_value:"),
    (lambda: ffaccel.mask_hysteresis(BIG_MASK, BIG_MASK, t_in=HUGE, t_out=0), ValueError, "t_in:"),
    (lambda: ffaccel.ColorTransferState(deadband=HUGE), ValueError, "deadband:"),
    (lambda: ffaccel.warp_affine(FRAME.astype(object), M, (8, 8)), TypeError, "src:"),         # finding 5
    (lambda: ffaccel.warp_affine(FRAME.astype(str), M, (8, 8)), TypeError, "src:"),
    (lambda: ffaccel.feather_mask(np.zeros((4, 4), [("a", np.uint8)]), 1.0), TypeError, "mask:"),
    (lambda: ffaccel.feather_mask(np.zeros((4, 4), np.complex64), 1.0), TypeError, "mask:"),
    (lambda: ffaccel.warp_affine(FRAME, M, (8, 8), border_value="5"), TypeError, "border_value:"),  # finding 6
    (lambda: ffaccel.ColorTransferState(alpha=0.5) and ffaccel.color_transfer(FRAME, FRAME, BIG_MASK, state=5),
     TypeError, "state:"),                                                                       # finding 8
    (lambda: ffaccel.color_transfer(FRAME, FRAME, BIG_MASK, track=[1]), TypeError, "track:"),
    (lambda: ffaccel.color_transfer(np.full((8, 8, 3), np.inf, np.float32), np.ones((8, 8, 3), np.float32),
                                    np.ones((8, 8), np.float32), "mkl"), ValueError, "src_crop:"),
    (lambda: ffaccel.warp_affine(FRAME, M + 1j, (8, 8)), TypeError, "matrix:"),                 # finding 9
    (lambda: ffaccel.apply_color_gain_linear(FRAME, np.array([1, 1, 1]) + 1j), TypeError, "gains:"),
    (lambda: ffaccel.warp_affine(FRAME, [[1e-39, 1e39, 0], [0, 1e39, 0]], (8, 8)), ValueError, "matrix:"),  # 10
    (lambda: ffaccel.paste_back(FRAME, CROP, np.zeros((12, 12), np.float32), [[1e-39, 1e39, 0], [0, 1e39, 0]]),
     ValueError, "matrix:"),
])
def test_hostile_scalars_and_dtypes_raise_named_errors(call, exc, prefix):
    with pytest.raises(exc) as info:
        call()
    assert str(info.value).startswith(prefix), str(info.value)


@pytest.mark.parametrize("call, name", [  # the fuzzer, case 2831 of seed 2026 (21 ops): an array compared
    (lambda v: ffaccel.warp_affine(FRAME, M, (8, 8), compat=v), "compat"),  # elementwise with a string
    (lambda v: ffaccel.warp_affine_batch(FRAME, M[None], (8, 8), compat=v), "compat"),
    (lambda v: ffaccel.paste_back(FRAME, CROP, MASK, M, compat=v), "compat"),
    (lambda v: ffaccel.paste_back_batch(FRAME, CROP[None], MASK[None], M[None], compat=v), "compat"),
    (lambda v: ffaccel.paste_back(FRAME, CROP, MASK, M, blend=v), "blend"),
    (lambda v: ffaccel.paste_back_insightface(FRAME, CROP, M, compat=v), "compat"),
    (lambda v: ffaccel.color_transfer(FRAME, FRAME, BIG_MASK, v), "method"),
])
@pytest.mark.parametrize("value", [np.array([1.0, 2.0]), np.array(["opencv4", "alpha"]), np.array(0.5), [1]])
def test_string_options_refuse_arrays_by_name(call, name, value):
    with pytest.raises(ValueError) as info:
        call(value)
    assert str(info.value).startswith(f"{name}: expected "), str(info.value)


@pytest.mark.parametrize("call", [
    lambda: ffaccel.warp_affine(FRAME, M, (8, 8), compat="opencv"),
    lambda: ffaccel.paste_back(FRAME, CROP, MASK, M, compat="facefusion"),
    lambda: ffaccel.paste_back_insightface(FRAME, CROP, M, compat="insightface"),
])
def test_follow_cv2_compat_names_the_argument_when_no_mode_matches(call, monkeypatch):
    # compat values that follow the installed cv2, under a release no mode reproduces (4.14,
    # 5.1 with IPP, no cv2): the OpenCVVersionError names `compat`, as every argument error does
    from ffaccel import opencv_compat

    def unverified(*args, **kwargs):
        raise opencv_compat.OpenCVVersionError("OpenCV 9.9.0: no compat mode has been verified for this release")
    monkeypatch.setattr(opencv_compat, "opencv_compat_mode", unverified)
    with pytest.raises(opencv_compat.OpenCVVersionError, match=r"^compat: OpenCV 9\.9\.0: no compat mode"):
        call()


@pytest.mark.parametrize("value, want", [(np.array([1.0, 2.0, 3.0]), (1, 2, 3)), (np.array(4.0), (4, 4, 4)),
                                         (np.float32(2.0), (2, 2, 2)), ([5, 6, 7], (5, 6, 7))])
def test_border_value_takes_numpy_arrays_and_scalars(value, want):  # finding 6
    out = ffaccel.warp_affine(FRAME, M, (4, 4), border="constant", border_value=value)
    far = ffaccel.warp_affine(FRAME, np.array([[1.0, 0, 500], [0, 1.0, 500]]), (4, 4), border="constant",
                              border_value=value)
    assert tuple(far[0, 0]) == want and out.shape == (4, 4, 3)


def test_tiny_sigma_is_one_tap():  # finding 3
    np.testing.assert_array_equal(ffaccel.feather_mask(BIG_MASK, 1e-200), BIG_MASK)


def test_torch_matrix_that_requires_grad_is_read():  # finding 7
    torch = pytest.importorskip("torch")
    m = torch.tensor(M, requires_grad=True)
    np.testing.assert_array_equal(ffaccel.warp_affine(FRAME, m, (8, 8)), ffaccel.warp_affine(FRAME, M, (8, 8)))
    out = torch.zeros((8, 8, 3), dtype=torch.float32, requires_grad=True)
    with pytest.raises(ValueError, match="^out: expected a writeable array"):
        ffaccel.srgb_to_linear(torch.from_numpy(FRAME[:8, :8].copy()), out=out)


def test_nan_inputs_have_one_defined_result():  # finding 10: NaN results are the same bytes everywhere
    src = np.full((6, 6), np.nan, np.float32)
    warped = ffaccel.warp_affine(src, np.array([[1.0, 0, 0.5], [0, 1.0, 0.25]]), (6, 6))
    assert set(warped.view(np.uint32).ravel().tolist()) == {0x7FC00000}
    assert set(ffaccel.feather_mask(src, 1.0).view(np.uint32).ravel().tolist()) == {0x7FC00000}
    frame = np.full((16, 16, 3), 100, np.uint8)
    kept = ffaccel.paste_back(frame, np.full((8, 8, 3), 200, np.uint8), np.full((8, 8), np.nan, np.float32),
                              np.array([[1.0, 0, -4], [0, 1.0, -4]]))
    np.testing.assert_array_equal(kept, frame)  # a NaN mask weight keeps the frame pixel
    zero = ffaccel.paste_back(frame, np.full((8, 8, 3), np.nan, np.float32), np.ones((8, 8), np.float32),
                              np.array([[1.0, 0, -4], [0, 1.0, -4]]))
    assert zero[6:10, 6:10].max() == 0 and zero[0, 0, 0] == 100  # a NaN crop value writes 0


def test_estimate_color_gains_sums_on_the_host_for_every_input_kind():  # finding 11
    torch = pytest.importorskip("torch")
    want = ffaccel.estimate_color_gains(FRAME, FRAME[::-1].copy(), BIG_MASK)
    got = ffaccel.estimate_color_gains(torch.from_numpy(FRAME), torch.from_numpy(FRAME[::-1].copy()),
                                       torch.from_numpy(BIG_MASK))
    assert got.tobytes() == want.tobytes()
