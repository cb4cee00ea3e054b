"""The insightface adapter against the real insightface package (2.1) and a stand-in model.

Every case calls the real ``INSwapper.get`` stock, then with the adapter installed, on
the same inputs, and compares every byte. Needs insightface (installed with
``--no-deps`` beside opencv-python-headless), onnx and onnxruntime.
"""

from __future__ import annotations

import threading
import warnings

import numpy as np
import pytest

pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")
pytest.importorskip("insightface.model_zoo.inswapper")
cv2 = pytest.importorskip("cv2")

import insightface_fake as fk  # noqa: E402

import ffaccel.integrations.insightface as ffi  # noqa: E402
from ffaccel.ops.paste_insightface import insightface_generation  # noqa: E402

try:
    insightface_generation()
    SUPPORTED = True
except ValueError:
    SUPPORTED = False
needs_supported = pytest.mark.skipif(not SUPPORTED, reason=f"OpenCV {cv2.__version__} is not reproduced yet")

pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning")  # skimage's estimate() deprecation


@pytest.fixture(scope="module")
def swapper(tmp_path_factory):
    path = fk.build_model(tmp_path_factory.mktemp("model") / "inswapper_128.onnx")
    return fk.load_swapper(path)


@pytest.fixture(autouse=True)
def _clean():
    ffi.uninstall()
    yield
    ffi.uninstall()


def _frame(h, w, seed):
    rng = np.random.default_rng(seed)
    # smooth content plus noise: a real frame's statistics are irrelevant, every byte counts
    base = rng.integers(0, 256, (h // 8 + 1, w // 8 + 1, 3), np.uint8)
    img = cv2.resize(base, (w, h), interpolation=cv2.INTER_LINEAR)
    return cv2.add(img, rng.integers(0, 24, (h, w, 3), np.uint8))


def _stock_then_ours(swapper, img, faces, source):
    """Paste `faces` one after another (each on the previous result), stock then ffaccel."""
    results = []
    for installed in (False, True):
        if installed:
            assert ffi.install()
        cur = img
        for f in faces:
            cur = swapper.get(cur, f, source, paste_back=True)
        results.append(cur)
        ffi.uninstall()
    return results


CASES = [  # (H, W, [(cx, cy, size, angle)])
    (720, 1280, [(640, 360, 60, 0)]),
    (720, 1280, [(300, 200, 250, 37)]),
    (720, 1280, [(1250, 700, 300, -60)]),  # partly off the frame (bottom right)
    (1080, 1920, [(960, 540, 420, 90)]),
    (1080, 1920, [(-100, 500, 500, 15)]),  # partly off the frame (left)
    (1080, 1920, [(900, 500, 380, 10), (1100, 560, 360, -25)]),  # two overlapping faces
    (1080, 1920, [(700, 600, 900, 45)]),
    (1080, 1921, [(1500, 300, 150, -89)]),  # odd width: OpenCV 5's scalar tails
    (2160, 3840, [(1900, 1000, 640, 20)]),
    (2160, 3840, [(3700, 2100, 300, -45)]),
]


@needs_supported
@pytest.mark.parametrize("h,w,faces", CASES)
def test_get_matches_stock(swapper, h, w, faces):
    img = _frame(h, w, seed=h + w + len(faces))
    tfs = [fk.target_face((cx, cy), s, a) for cx, cy, s, a in faces]
    stock, ours = _stock_then_ours(swapper, img, tfs, fk.source_face())
    assert not np.array_equal(stock, img)
    np.testing.assert_array_equal(ours, stock)


@needs_supported
@pytest.mark.parametrize("seed", range(6))
def test_get_matches_stock_random(swapper, seed):
    rng = np.random.default_rng(100 + seed)
    h, w = [(720, 1280), (1080, 1920), (600, 999)][seed % 3]
    size = float(rng.uniform(60, 700))
    center = (float(rng.uniform(-size / 3, w + size / 3)), float(rng.uniform(-size / 3, h + size / 3)))
    tf = fk.target_face(center, size, float(rng.uniform(-90, 90)), dtype=np.float64 if seed % 2 else np.float32)
    img = _frame(h, w, seed)
    try:
        stock = swapper.get(img, tf, fk.source_face(seed), paste_back=True)
    except ValueError:  # no mask pixel in the frame: stock fails, ffaccel leaves the frame as is
        stock = img
    assert ffi.install()
    np.testing.assert_array_equal(swapper.get(img, tf, fk.source_face(seed), paste_back=True), stock)


@needs_supported
def test_one_pixel_wide_paste_area(swapper):
    # The crop's footprint ends half a pixel into the frame: a 1-px-wide visible strip.
    img = _frame(720, 1280, 7)
    size = 200.0
    tf = fk.target_face((0.6 - size / 2, 360.0), size, 0.0)
    try:
        stock = swapper.get(img, tf, fk.source_face(), paste_back=True)
    except ValueError:
        stock = None
    assert ffi.install()
    ours = swapper.get(img, tf, fk.source_face(), paste_back=True)
    if stock is None:
        np.testing.assert_array_equal(ours, img)
    else:
        np.testing.assert_array_equal(ours, stock)
        changed = np.nonzero((stock != img).any(axis=2))
        assert changed[1].size == 0 or changed[1].max() <= 2


@needs_supported
@pytest.mark.parametrize("h,w,cx,cy", [(360, 1, 0.0, 180.0), (1, 640, 320.0, 0.0), (1, 1, 0.0, 0.0)])
def test_one_pixel_frames(swapper, h, w, cx, cy):
    # Frames 1 pixel wide, high, or both: cv2.GaussianBlur skips the pass along that axis.
    # ffaccel pastes them (no fallback to stock).
    rng = np.random.default_rng(h + w)
    img = rng.integers(0, 256, (h, w, 3), np.uint8)
    tf = fk.target_face((cx, cy), 120.0, 20.0)
    stock = swapper.get(img, tf, fk.source_face(), paste_back=True)
    assert not np.array_equal(stock, img)
    assert ffi.install()
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        ours = swapper.get(img, tf, fk.source_face(), paste_back=True)
    assert ffi.installed_options()["calls"] == 1 and ffi.installed_options()["fallbacks"] == 0
    np.testing.assert_array_equal(ours, stock)


@needs_supported
def test_face_off_frame(swapper):
    img = _frame(720, 1280, 3)
    tf = fk.target_face((-500.0, 300.0), 200.0, 10.0)
    with pytest.raises(ValueError):
        swapper.get(img, tf, fk.source_face(), paste_back=True)  # stock: np.max of an empty array
    assert ffi.install()
    np.testing.assert_array_equal(swapper.get(img, tf, fk.source_face(), paste_back=True), img)


@needs_supported
def test_non_contiguous_frame_and_float64_kps(swapper):
    img = np.rot90(_frame(1280, 720, 5))  # a (720, 1280, 3) view with odd strides
    assert not img.flags.c_contiguous
    tf = fk.target_face((500.0, 300.0), 330.0, 65.0, dtype=np.float64)
    stock, ours = _stock_then_ours(swapper, img, [tf], fk.source_face())
    np.testing.assert_array_equal(ours, stock)


@needs_supported
def test_repeated_frames_take_the_ops_lean_path(swapper, monkeypatch):
    # Frames of one size: after the first call the op's full checks never run again (the
    # adapter hands it a contiguous crop, whose signature repeats), and the bytes stay stock's.
    import ffaccel.ops.paste_insightface as ins
    from ffaccel import _fast

    _fast.cache_clear()
    checks = []
    real = ins.check
    monkeypatch.setattr(ins, "check", lambda *a, **k: checks.append(1) or real(*a, **k))
    faces = [fk.target_face((400.0 + 40 * i, 300.0), 220.0, 10.0 * i) for i in range(3)]
    frames = [_frame(480, 640, 20 + i) for i in range(3)]
    stock = [swapper.get(f, t, fk.source_face(), paste_back=True) for f, t in zip(frames, faces)]
    assert ffi.install()
    ours = [swapper.get(f, t, fk.source_face(), paste_back=True) for f, t in zip(frames, faces)]
    assert len(checks) == 1
    for a, b in zip(ours, stock):
        np.testing.assert_array_equal(a, b)


@needs_supported
def test_paste_back_false_is_stock(swapper):
    img = _frame(720, 1280, 9)
    tf = fk.target_face((600.0, 300.0), 200.0, 0.0)
    a, ma = swapper.get(img, tf, fk.source_face(), paste_back=False)
    assert ffi.install()
    b, mb = swapper.get(img, tf, fk.source_face(), paste_back=False)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(ma, mb)


@needs_supported
def test_unhandled_input_falls_back_with_one_warning(swapper):
    img = _frame(720, 1280, 11).astype(np.float32)  # stock accepts a float frame
    tf = fk.target_face((600.0, 300.0), 200.0, 5.0)
    stock = swapper.get(img, tf, fk.source_face(), paste_back=True)
    assert ffi.install()
    with pytest.warns(RuntimeWarning, match="runs stock"):
        ours = swapper.get(img, tf, fk.source_face(), paste_back=True)
    np.testing.assert_array_equal(ours, stock)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        swapper.get(img, tf, fk.source_face(), paste_back=True)  # warned once only
    assert ffi.installed_options()["fallbacks"] == 2


@needs_supported
def test_broken_extension_never_breaks_the_host(swapper, monkeypatch):
    img = _frame(720, 1280, 13)
    tf = fk.target_face((600.0, 300.0), 220.0, -5.0)
    stock = swapper.get(img, tf, fk.source_face(), paste_back=True)
    assert ffi.install()
    backend = ffi._state["backend"]

    def broken(*args, **kwargs):
        raise RuntimeError("simulated broken extension")

    monkeypatch.setattr(backend, "paste", broken)
    with pytest.warns(RuntimeWarning, match="paste failed"):
        ours = swapper.get(img, tf, fk.source_face(), paste_back=True)
    np.testing.assert_array_equal(ours, stock)


def test_install_without_loadable_ffaccel_warns_and_runs_stock(monkeypatch):
    def fail():
        raise ImportError("simulated: _core missing")

    monkeypatch.setattr(ffi, "_load", fail)
    monkeypatch.setattr(ffi, "_warned", set())
    with pytest.warns(RuntimeWarning, match="not installed"):
        assert ffi.install() is False
    assert not ffi.is_installed()
    from insightface.model_zoo.inswapper import INSwapper

    assert not getattr(INSwapper.__dict__["get"], "_ffaccel", False)


@needs_supported
def test_install_is_idempotent_and_uninstall_restores(swapper):
    from insightface.model_zoo.inswapper import INSwapper

    original = INSwapper.__dict__["get"]
    assert ffi.install() and ffi.install()
    patched = INSwapper.__dict__["get"]
    assert patched is not original and getattr(patched, "_ffaccel", False)
    ffi.uninstall()
    ffi.uninstall()
    assert INSwapper.__dict__["get"] is original
    assert not ffi.is_installed()


@needs_supported
def test_install_is_thread_safe(swapper):
    from insightface.model_zoo.inswapper import INSwapper

    original = INSwapper.__dict__["get"]
    errors = []

    def worker(i):
        try:
            for _ in range(20):
                ffi.install(stabilize=bool(i % 2))
                ffi.uninstall()
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert INSwapper.__dict__["get"] is original  # every install was undone, never stacked
    assert ffi.install()
    assert INSwapper.__dict__["get"].__wrapped__ is original


def test_install_rejects_bad_stabilize():
    with pytest.raises(TypeError, match="stabilize"):
        ffi.install(stabilize="yes")


def test_cli_help(capsys):
    with pytest.raises(SystemExit) as exc:
        ffi.main(["--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert "ffi.install()" in out and "python -m ffaccel.integrations.insightface" in out


@needs_supported
def test_benchmark_peer_is_stock(swapper):
    """benchmarks/bench_insightface.py times insightface_reference.stock_paste: it is the real paste."""
    from insightface.utils import face_align
    from insightface_reference import stock_paste

    img = _frame(720, 1280, 17)
    tf, sf = fk.target_face((600.0, 330.0), 300.0, 25.0), fk.source_face()
    aimg, M = face_align.norm_crop2(img, tf.kps, 128)
    bgr_fake, M2 = swapper.get(img, tf, sf, paste_back=False)
    np.testing.assert_array_equal(M, M2)
    np.testing.assert_array_equal(stock_paste(img, bgr_fake, aimg, M), swapper.get(img, tf, sf, paste_back=True))
