"""FaceFusion adapter: exactness, patching, uninstall, fallback, threads, later imports.

Runs without FaceFusion: ``facefusion_fake`` writes a small ``facefusion`` package with
stock implementations written from FaceFusion's documented behaviour. Runs under OpenCV 5
and OpenCV 4.12 (the adapter picks the matching compat mode at install).
"""

from __future__ import annotations

import importlib
import sys
import threading
import warnings

import cv2
import facefusion_fake
import numpy as np
import pytest

import ffaccel.integrations.facefusion as ffa


@pytest.fixture()
def ff(tmp_path, monkeypatch):
    """The fake facefusion package on sys.path; adapter uninstalled and modules dropped afterwards."""
    facefusion_fake.put_on_path(tmp_path, monkeypatch)
    helper = importlib.import_module("facefusion.face_helper")
    masker = importlib.import_module("facefusion.face_masker")
    swapper = importlib.import_module("facefusion.processors.modules.face_swapper.core")
    recognizer = importlib.import_module("facefusion.face_recognizer")
    yield type("FF", (), {"helper": helper, "masker": masker, "swapper": swapper, "recognizer": recognizer,
                          "root": tmp_path})
    ffa.uninstall()
    facefusion_fake.drop_modules()


def _landmarks(rng, frame_shape, crop_hint):
    """Five plausible face points somewhere in (and a little outside) the frame."""
    h, w = frame_shape[:2]
    size = rng.uniform(0.08, 0.6) * min(h, w)
    cx, cy = rng.uniform(-0.1 * w, 1.1 * w), rng.uniform(-0.1 * h, 1.1 * h)
    base = np.array([[-0.3, -0.2], [0.3, -0.2], [0.0, 0.05], [-0.22, 0.3], [0.22, 0.3]])
    angle = rng.uniform(-0.6, 0.6)
    rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    pts = base @ rot.T * size + [cx, cy] + rng.normal(0, 0.02 * size, (5, 2))
    return pts.astype(rng.choice([np.float32, np.float64]))


def _frame(rng, shape):
    # Smooth content plus noise: bilinear weights matter on every pixel.
    h, w = shape
    yy, xx = np.mgrid[0:h, 0:w]
    base = (np.sin(xx / 17.0)[..., None] * 60 + np.cos(yy / 23.0)[..., None] * 60 + 128 + [0, 20, -20])
    return np.clip(base + rng.integers(-40, 40, (h, w, 3)), 0, 255).astype(np.uint8)


FRAMES = [(720, 1280), (1080, 1920), (2160, 3840)]
CROPS = [128, 256, 512, 1024]


def _cases():
    # Every crop size on 720p and 1080p, two 4K cases (slow on two shared cores).
    cases = [(f, c) for f in FRAMES[:2] for c in CROPS]
    return cases + [(FRAMES[2], 256), (FRAMES[2], 1024)]


def _stock(ff):
    return (ff.helper.warp_face_by_face_landmark_5, ff.helper.paste_back, ff.masker.create_box_mask)


@pytest.mark.parametrize("frame_shape,crop", _cases())
def test_exact_mode_is_byte_identical(ff, frame_shape, crop):
    warp0, paste0, box0 = _stock(ff)
    rng = np.random.default_rng(crop * 7 + frame_shape[0])
    frame = _frame(rng, frame_shape)
    assert ffa.install() is True
    warp1, paste1, box1 = ff.helper.warp_face_by_face_landmark_5, ff.helper.paste_back, ff.masker.create_box_mask
    assert warp1 is not warp0 and paste1 is not paste0 and box1 is not box0
    for i in range(4):
        lm = _landmarks(rng, frame_shape, crop)
        template = ["arcface_128", "ffhq_512"][i % 2]
        c0, m0 = warp0(frame, lm, template, (crop, crop))
        c1, m1 = warp1(frame, lm, template, (crop, crop))
        assert m0.tobytes() == m1.tobytes()
        assert c0.dtype == c1.dtype and c0.shape == c1.shape
        assert np.array_equal(c0, c1), f"warp differs at {np.argwhere(c0 != c1)[:3]}"
        blur, padding = float(rng.choice([0.0, 0.1, 0.3, 0.7])), tuple(int(p) for p in rng.integers(0, 30, 4))
        b0, b1 = box0(c0, blur, padding), box1(c0, blur, padding)
        assert b0.dtype == b1.dtype and np.array_equal(b0, b1)
        # A swapped crop as processors make it: float32, a reversed-channel view; and uint8.
        swapped = ff.swapper.fake_model(c0) if i % 2 == 0 else np.ascontiguousarray(255 - c0)
        noise = rng.uniform(0.6, 1.0, b0.shape).astype(np.float32)
        mask = np.minimum.reduce([b0, noise]).clip(0, 1)
        p0 = paste0(frame, swapped, mask, m0)
        p1 = paste1(frame, swapped, mask, m0)
        assert p0.dtype == p1.dtype and p0.shape == p1.shape
        assert np.array_equal(p0, p1), f"paste differs at {np.argwhere(p0 != p1)[:3]}"
    from ffaccel.opencv_compat import opencv_compat_mode

    assert ffa.installed_options()["opencv"] == opencv_compat_mode(cv2)


def test_processor_pipeline_exact_and_calls_ffaccel(ff, monkeypatch):
    rng = np.random.default_rng(1)
    frame = _frame(rng, (720, 1280))
    lms = [_landmarks(rng, frame.shape, 256) for _ in range(5)]
    stock = [ff.swapper.swap_face(frame, lm) for lm in lms]
    ffa.install()
    import ffaccel.ops

    calls = []
    real = ffaccel.ops.paste_back
    monkeypatch.setattr(ffaccel.ops, "paste_back", lambda *a, **k: calls.append(k.get("compat")) or real(*a, **k))
    got = [ff.swapper.swap_face(frame, lm) for lm in lms]
    assert all(np.array_equal(a, b) for a, b in zip(stock, got))
    assert calls and all(c and c.startswith("facefusion-opencv") for c in calls)


def test_non_contiguous_frame(ff):
    warp0, paste0, _ = _stock(ff)
    rng = np.random.default_rng(2)
    big = _frame(rng, (720, 1280))
    frame = big[:, ::-1]  # negative stride view
    lm = _landmarks(rng, frame.shape, 256)
    c0, m0 = warp0(np.ascontiguousarray(frame), lm, "arcface_128", (256, 256))
    ffa.install()
    c1, m1 = ff.helper.warp_face_by_face_landmark_5(frame, lm, "arcface_128", (256, 256))
    assert np.array_equal(c0, c1)
    crop = c0[:, :, ::-1].astype(np.float32)
    mask = np.ones((256, 256), np.float32)
    assert np.array_equal(paste0(frame, crop, mask, m0), ff.helper.paste_back(frame, crop, mask, m0))


def test_rgba_frames_and_channel_views(ff):
    """FaceFusion 3.8 reads RGBA frames and hands processors ``frame[:, :, :3]`` (a view)."""
    warp0, paste0, _ = _stock(ff)
    rng = np.random.default_rng(9)
    rgba = np.dstack([_frame(rng, (720, 1280)), rng.integers(0, 256, (720, 1280), dtype=np.uint8)])
    ffa.install()
    for frame in (rgba, rgba[:, :, :3]):
        lm = _landmarks(rng, frame.shape, 256)
        c0, m0 = warp0(frame, lm, "arcface_128", (256, 256))
        c1, m1 = ff.helper.warp_face_by_face_landmark_5(frame, lm, "arcface_128", (256, 256))
        assert np.array_equal(c0, c1) and np.array_equal(m0, m1)
        crop = (255 - c0).astype(np.float32)
        mask = rng.uniform(0, 1, (256, 256)).astype(np.float32)
        assert np.array_equal(paste0(frame, crop, mask, m0), ff.helper.paste_back(frame, crop, mask, m0))


def test_out_of_range_float_crop_matches_stock(ff):
    _, paste0, _ = _stock(ff)
    rng = np.random.default_rng(10)
    frame = _frame(rng, (360, 640))
    m = np.array([[0.9, 0.1, -100.0], [-0.1, 0.9, -50.0]])
    crop = rng.uniform(-40, 300, (128, 128, 3)).astype(np.float32)  # unclipped model output
    mask = np.ones((128, 128), np.float32)
    ffa.install()
    assert np.array_equal(paste0(frame, crop, mask, m), ff.helper.paste_back(frame, crop, mask, m))


def test_patches_by_name_references_and_uninstall_restores(ff):
    originals = {
        (ff.helper, "warp_face_by_face_landmark_5"): ff.helper.warp_face_by_face_landmark_5,
        (ff.helper, "paste_back"): ff.helper.paste_back,
        (ff.masker, "create_box_mask"): ff.masker.create_box_mask,
        (ff.swapper, "warp_face_by_face_landmark_5"): ff.swapper.warp_face_by_face_landmark_5,
        (ff.swapper, "paste_back"): ff.swapper.paste_back,
        (ff.swapper, "create_box_mask"): ff.swapper.create_box_mask,
        (ff.recognizer, "warp_face_by_face_landmark_5"): ff.recognizer.warp_face_by_face_landmark_5,
    }
    assert ff.swapper.paste_back is ff.helper.paste_back
    ffa.install()
    ffa.install()  # idempotent
    assert ffa.is_installed()
    for (module, name), fn in originals.items():
        assert getattr(module, name) is not fn, (module.__name__, name)
        assert getattr(module, name).__ffaccel_original__ is fn
    ffa.uninstall()
    ffa.uninstall()  # idempotent
    assert not ffa.is_installed()
    for (module, name), fn in originals.items():
        assert getattr(module, name) is fn, (module.__name__, name)
    assert ff.recognizer.warp_face_by_face_landmark_5 is ff.helper.warp_face_by_face_landmark_5
    # Our own finder class, not any finder some other package happens to name _Finder.
    from ffaccel.integrations.facefusion_patch import _Finder

    assert not any(isinstance(f, _Finder) for f in sys.meta_path)


def test_reinstall_with_other_mode_and_back(ff):
    paste0 = ff.helper.paste_back
    ffa.install(mode="fast")
    assert ffa.installed_options()["mode"] == "fast"
    ffa.install(mode="exact")
    assert ffa.installed_options()["mode"] == "exact"
    assert ff.swapper.paste_back.__ffaccel_original__ is paste0
    ffa.uninstall()
    assert ff.swapper.paste_back is paste0


def test_module_imported_later_is_patched(ff):
    paste0 = ff.helper.paste_back
    assert "facefusion.processors.modules.face_enhancer.core" not in sys.modules
    ffa.install()
    enhancer = importlib.import_module("facefusion.processors.modules.face_enhancer.core")
    assert enhancer.paste_back is not paste0 and enhancer.paste_back.__ffaccel_original__ is paste0
    assert enhancer.create_box_mask is not None and hasattr(enhancer.create_box_mask, "__ffaccel_original__")
    ffa.uninstall()
    assert enhancer.paste_back is paste0


def test_everything_imported_after_install(tmp_path, monkeypatch):
    """install() before FaceFusion is imported at all (the CLI's order)."""
    facefusion_fake.put_on_path(tmp_path, monkeypatch)
    try:
        ffa.install()
        swapper = importlib.import_module("facefusion.processors.modules.face_swapper.core")
        helper = sys.modules["facefusion.face_helper"]
        assert hasattr(helper.paste_back, "__ffaccel_original__")
        assert swapper.paste_back.__ffaccel_original__ is helper.paste_back.__ffaccel_original__
        rng = np.random.default_rng(3)
        frame = _frame(rng, (720, 1280))
        lm = _landmarks(rng, frame.shape, 256)
        got = swapper.swap_face(frame, lm)
        ffa.uninstall()
        assert not hasattr(helper.paste_back, "__ffaccel_original__")
        assert swapper.paste_back is helper.paste_back
        assert np.array_equal(got, swapper.swap_face(frame, lm))
    finally:
        ffa.uninstall()
        facefusion_fake.drop_modules()


def test_broken_ffaccel_load_leaves_stock(ff, monkeypatch):
    import ffaccel.integrations.facefusion as module

    originals = _stock(ff)
    monkeypatch.setattr(module, "_warned_load", False)
    monkeypatch.setitem(sys.modules, "ffaccel._core", None)  # import ffaccel._core -> ImportError
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert ffa.install() is False
        assert ffa.install(mode="fast") is False
    msgs = [w for w in caught if issubclass(w.category, RuntimeWarning) and "ffaccel could not be loaded" in str(w.message)]
    assert len(msgs) == 1
    assert not ffa.is_installed()
    assert _stock(ff) == originals and ff.swapper.paste_back is originals[1]
    rng = np.random.default_rng(4)
    frame = _frame(rng, (720, 1280))
    assert ff.swapper.swap_face(frame, _landmarks(rng, frame.shape, 256)).shape == frame.shape


def test_threaded_calls_match_stock(ff):
    rng = np.random.default_rng(5)
    frames = [_frame(rng, (720, 1280)) for _ in range(4)]
    jobs = [(frames[i % 4], _landmarks(rng, (720, 1280), 256)) for i in range(32)]
    stock = [ff.swapper.swap_face(f, lm, (256, 256), 0.3, (i % 20, 0, 5, 0)) for i, (f, lm) in enumerate(jobs)]
    ffa.install()
    results: list = [None] * len(jobs)
    errors: list = []
    barrier = threading.Barrier(8)

    def worker(k):
        try:
            barrier.wait()
            for i in range(k, len(jobs), 8):
                f, lm = jobs[i]
                results[i] = ff.swapper.swap_face(f, lm, (256, 256), 0.3, (i % 20, 0, 5, 0))
                if i == 9:  # install/uninstall racing with calls must not break anything
                    ffa.install()
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert all(np.array_equal(a, b) for a, b in zip(stock, results))


def test_box_mask_cache_returns_fresh_arrays(ff):
    ffa.install()
    crop = np.zeros((256, 256, 3), np.uint8)
    a = ff.masker.create_box_mask(crop, 0.3, [0, 0, 0, 0])
    b = ff.masker.create_box_mask(crop, 0.3, (0, 0, 0, 0))
    assert a is not b and np.array_equal(a, b) and a.flags.writeable
    a[:] = 0  # a caller writing into its mask must not change the cache
    assert np.array_equal(ff.masker.create_box_mask(crop, 0.3, (0, 0, 0, 0)), b)


def test_unusual_arguments_go_to_stock(ff):
    warp0, paste0, _ = _stock(ff)
    ffa.install()
    rng = np.random.default_rng(6)
    frame = _frame(rng, (360, 640))
    crop, m = warp0(frame, _landmarks(rng, frame.shape, 128), "arcface_128", (128, 128))
    mask64 = np.ones((128, 128))  # float64 mask: ffaccel has no exact path, stock runs
    assert np.array_equal(paste0(frame, crop, mask64, m), ff.helper.paste_back(frame, crop, mask64, m))
    far = m.copy()
    far[:, 2] += 1e5  # paste area outside the frame: whatever stock does, the adapter does too
    try:
        expected = paste0(frame, crop, np.ones((128, 128), np.float32), far)
    except Exception as exc:
        with pytest.raises(type(exc)):
            ff.helper.paste_back(frame, crop, np.ones((128, 128), np.float32), far)
    else:
        assert np.array_equal(expected, ff.helper.paste_back(frame, crop, np.ones((128, 128), np.float32), far))


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="mode"):
        ffa.install(mode="quick")
    with pytest.raises(TypeError, match="stabilize"):
        ffa.install(stabilize="yes")
    with pytest.raises(ValueError, match="device"):
        ffa.install(mode="exact", device="cuda")
    with pytest.raises(ValueError, match="device"):
        ffa.install(mode="fast", device="tpu")
    assert not ffa.is_installed()


def test_fast_mode_close_to_stock(ff):
    warp0, paste0, box0 = _stock(ff)
    ffa.install(mode="fast")
    rng = np.random.default_rng(7)
    frame = _frame(rng, (720, 1280))
    for crop in (128, 512):
        lm = _landmarks(rng, frame.shape, crop)
        c0, m0 = warp0(frame, lm, "arcface_128", (crop, crop))
        c1, m1 = ff.helper.warp_face_by_face_landmark_5(frame, lm, "arcface_128", (crop, crop))
        assert np.array_equal(m0, m1)
        assert np.abs(c0.astype(int) - c1.astype(int)).max() <= 2
        b0, b1 = box0(c0, 0.3, (0, 0, 0, 0)), ff.masker.create_box_mask(c0, 0.3, (0, 0, 0, 0))
        assert np.abs(b0 - b1).max() <= 1e-6
        swapped = ff.swapper.fake_model(c0)
        p0, p1 = paste0(frame, swapped, b0, m0), ff.helper.paste_back(frame, swapped, b0, m0)
        assert np.abs(p0.astype(int) - p1.astype(int)).max() <= 2


@pytest.mark.cuda
def test_fast_mode_on_cuda_matches_fast_cpu(ff):
    rng = np.random.default_rng(8)
    frame = _frame(rng, (1080, 1920))
    lm = _landmarks(rng, frame.shape, 512)
    ffa.install(mode="fast")
    cpu = ff.swapper.swap_face(frame, lm, (512, 512))
    ffa.install(mode="fast", device="cuda")
    assert ffa.installed_options()["gpu"], ffa.installed_options()["gpu_reason"]
    gpu = ff.swapper.swap_face(frame, lm, (512, 512))
    assert np.array_equal(cpu, gpu)  # ffaccel: CPU and GPU give the same bytes


def test_bad_reinstall_keeps_current_installation(ff):
    paste0 = ff.helper.paste_back
    ffa.install(mode="fast")
    patched = ff.swapper.paste_back
    with pytest.raises(ValueError, match="device"):
        ffa.install(mode="exact", device="cuda")
    with pytest.raises(FileNotFoundError):
        ffa.install(stabilize=ffa.StabilizeOptions(plan=str(ff.root / "missing.npz")))
    assert ffa.installed_options()["mode"] == "fast" and ff.swapper.paste_back is patched
    ffa.uninstall()
    assert ff.swapper.paste_back is paste0


def test_fast_device_without_cuda_kernels_uses_cpu(ff, caplog):
    import ffaccel

    if ffaccel.status(frameworks=False)["cuda_built"]:
        pytest.skip("this build has CUDA kernels")
    with caplog.at_level("WARNING", logger="ffaccel.integrations.facefusion"):
        assert ffa.install(mode="fast", device="cuda") is True
    opts = ffa.installed_options()
    assert opts["gpu"] is False and "CUDA" in opts["gpu_reason"]
    assert sum("using ffaccel's CPU path" in r.getMessage() for r in caplog.records) == 1
    rng = np.random.default_rng(11)
    frame = _frame(rng, (360, 640))
    lm = _landmarks(rng, frame.shape, 128)
    got = ff.swapper.swap_face(frame, lm, (128, 128))
    ffa.install(mode="fast")
    assert np.array_equal(got, ff.swapper.swap_face(frame, lm, (128, 128)))


def test_gpu_plumbing_with_host_stand_in(ff):
    """The upload -> op -> download path, with a stand-in 'device' that keeps numpy arrays."""
    rng = np.random.default_rng(12)
    frame = _frame(rng, (720, 1280))
    lm = _landmarks(rng, frame.shape, 256)
    ffa.install(mode="fast")
    cpu = ff.swapper.swap_face(frame, lm)
    backend = ffa._state["backend"]
    moved = []

    class HostGpu:
        def up(self, a):
            moved.append(a.shape)
            return np.ascontiguousarray(a)

        def down(self, a):
            return a

    backend.gpu = HostGpu()
    assert np.array_equal(cpu, ff.swapper.swap_face(frame, lm))
    assert len(moved) == 4  # frame for the warp; frame, crop and mask for the paste
