"""The second real detector of the stabilisation benchmark (benchmarks/real/facemesh.py:
MediaPipe Face Mesh reduced to 5 points): its search tiles, point reduction and box merge,
which need no mediapipe; a whole clip through it where mediapipe 0.10.14 is importable
(a benchmark dependency, not installed by tests/run.sh: docs/stability.md, "A second
detector", says how); and the stabiliser's modes on the Face Mesh tracks shipped in
tests/data/real_tracks_facemesh."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ffaccel.stability import _realdata as rd
from ffaccel.stability import stabilize_track

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))

from real import facemesh  # noqa: E402


@settings(max_examples=60, deadline=None)
@given(w=st.integers(32, 4000), h=st.integers(32, 2400), min_face=st.floats(4.0, 400.0))
def test_tiles_cover_the_image_at_every_level(w, h, min_face):
    tiles = facemesh.tiles(w, h, min_face)
    sides = sorted({s for _, _, s in tiles}, reverse=True)
    assert sides[0] == min(w, h)
    for a, b in zip(sides, sides[1:]):
        assert b == a // 2  # a halving pyramid
    # it stops once the next level would be under TILE_FACES faces (or 32 px)
    assert sides[-1] / 2 < facemesh.TILE_FACES * min_face or sides[-1] / 2 < 32
    for side in sides:
        level = [(x, y) for x, y, s in tiles if s == side]
        assert all(0 <= x and x + side <= w and 0 <= y and y + side <= h for x, y in level)
        xs, ys = sorted({x for x, _ in level}), sorted({y for _, y in level})
        # every column and row of the image lies in a tile; neighbours overlap by half
        assert xs[0] == 0 and xs[-1] + side == w
        assert ys[0] == 0 and ys[-1] + side == h
        assert all(b - a <= max(1, side // 2) for a, b in zip(xs, xs[1:]))
        assert all(b - a <= max(1, side // 2) for a, b in zip(ys, ys[1:]))


def test_five_points_take_the_eye_contours_nose_tip_and_mouth_corners():
    rng = np.random.default_rng(3)
    mesh = rng.normal(0.0, 1.0, (468, 2))
    mesh[list(facemesh.RIGHT_EYE)] = [10.0, 20.0] + rng.normal(0, 1, (16, 2))
    mesh[list(facemesh.LEFT_EYE)] = [30.0, 20.0] + rng.normal(0, 1, (16, 2))
    pts = facemesh.five_points(mesh)
    assert pts.shape == (5, 2)
    assert np.allclose(pts[0], mesh[list(facemesh.RIGHT_EYE)].mean(axis=0))
    assert np.allclose(pts[1], mesh[list(facemesh.LEFT_EYE)].mean(axis=0))
    assert np.array_equal(pts[2], mesh[1]) and np.array_equal(pts[3], mesh[61]) and np.array_equal(pts[4], mesh[291])
    assert pts[0, 0] < pts[1, 0]  # MTCNN's order: the image-left eye first
    assert len(set(facemesh.RIGHT_EYE) | set(facemesh.LEFT_EYE)) == 32


def test_box_merge_keeps_the_best_of_each_overlapping_group():
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [50, 50, 60, 60], [0.5, 0, 10.5, 10]], float)
    scores = np.array([0.7, 0.9, 0.6, 0.8])
    assert facemesh._nms(boxes, scores) == [1, 2]
    assert facemesh._nms(boxes[:0], scores[:0]) == []


def _mediapipe_dir() -> str | None:
    """Where mediapipe 0.10.14 is: FFACCEL_MEDIAPIPE_DIR (a folder of its own, as tests/run.sh
    installs it: its protobuf is older than onnx's), "" when this Python imports it, else None."""
    folder = os.environ.get("FFACCEL_MEDIAPIPE_DIR")
    if folder and (Path(folder) / "mediapipe").is_dir():
        return folder
    return "" if importlib.util.find_spec("mediapipe") is not None else None


_CHILD = """
import sys
from pathlib import Path
import numpy as np
from real import clips, dataset
spec = clips.ClipSpec("nod", "720p", 240, "astronaut")
res = dataset.generate([spec], Path(sys.argv[1]), jobs=1, detector="facemesh")[spec]
again = dataset.generate([spec], Path(sys.argv[1]), jobs=1, detector="facemesh")[spec]
np.savez(Path(sys.argv[1]) / "out.npz", again=again["detected"], **res)
"""


@pytest.mark.slow
@pytest.mark.skipif(_mediapipe_dir() is None, reason="mediapipe is not installed: set FFACCEL_MEDIAPIPE_DIR to a "
                    "folder made by pip install --no-deps --target DIR mediapipe==0.10.14 absl-py flatbuffers "
                    "'protobuf>=4.25.3,<5' attrs (tests/run.sh does)")
def test_a_clip_through_face_mesh_follows_the_truth(tmp_path):
    import ffaccel

    # a child process: mediapipe's folder goes first on its path; the ffaccel under test, never the source tree
    here = str(Path(ffaccel.__file__).resolve().parents[1])
    path = [_mediapipe_dir(), here, str(ROOT / "benchmarks"), *sys.path]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in path if p))
    run = subprocess.run([sys.executable, "-c", _CHILD, str(tmp_path)], env=env, capture_output=True, text=True,
                         timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    with np.load(tmp_path / "out.npz") as d:
        res = {k: d[k] for k in d.files}
    from real import dataset

    assert str(res["detector"]) == "facemesh" and "mediapipe 0.10.14" in str(res["environment"])
    det, truth = res["detected"], res["truth"]
    found = np.all(np.isfinite(det), axis=(1, 2))
    assert found.mean() > 0.95
    fw = float(np.median(dataset.face_widths(truth)))
    err = np.linalg.norm(det[found] - truth[found], axis=2)
    # a real detector: off the truth by a fraction of a percent of the face, not exactly on it
    assert 0.02 < 100 * err.mean() / fw < 3.0
    assert np.array_equal(res["again"], det, equal_nan=True)  # the second call read the cache back


# --- the shipped Face Mesh tracks (tests/data/real_tracks_facemesh) --------------------------------
# The same eleven clip specs as real_tracks/ (MTCNN), detected by Face Mesh. Each test asserts a
# property with a margin below what the modes achieve today (docs/stability.md, "A second
# detector"), so a regression fails and noise in the last digits does not.

FM = ROOT / "tests" / "data" / "real_tracks_facemesh"
FM_FILES = sorted(FM.glob("*.npz"))
_OUT: dict = {}


def _clip(path: Path) -> dict:
    with np.load(path, allow_pickle=False) as d:
        return {"truth": d["truth"].astype(np.float64), "z": d["detected"].astype(np.float64),
                "cuts": [int(c) for c in d["cuts"]], "name": path.stem}


def _out(path: Path, mode: str) -> np.ndarray:
    if (path, mode) not in _OUT:
        _OUT[(path, mode)] = stabilize_track(_clip(path)["z"], mode=mode)
    return _OUT[(path, mode)]


def test_the_face_mesh_tracks_are_there_and_small():
    assert [p.name for p in FM_FILES] == [p.name for p in sorted((ROOT / "tests" / "data" / "real_tracks").glob("*.npz"))]
    assert sum(p.stat().st_size for p in FM_FILES) < 300_000


def test_face_mesh_noise_is_smaller_than_mtcnns_and_a_fraction_of_the_face():
    # sigma per coordinate, % F: Face Mesh 0.11-0.14 on the frontal astronaut at 80 and 600 px,
    # MTCNN 0.35-0.42 on the same clip specs; on the small 3/4-view cameraman both about 1.5-2
    def sigma(folder, name):
        c = _clip(folder / name)
        return rd.noise_split(c["z"], c["truth"], c["cuts"])

    for name in ("still_720p_80_astronaut.npz", "still_4k_600_astronaut.npz"):
        fm, mt = sigma(FM, name), sigma(ROOT / "tests" / "data" / "real_tracks", name)
        assert fm["sigma_pct"] < 0.2 and fm["sigma_pct"] < 0.6 * mt["sigma_pct"]
        assert fm["translation"] < 0.3  # near independent noise (0.2): not a rigid shift
    small, big = sigma(FM, "still_720p_80_astronaut.npz"), sigma(FM, "still_4k_600_astronaut.npz")
    assert big["sigma_px"] / small["sigma_px"] > 3.0 and 0.5 < big["sigma_pct"] / small["sigma_pct"] < 2.0
    assert sigma(FM, "still_720p_240_camera.npz")["translation"] > 0.6  # the 3/4 view: mostly rigid


@pytest.mark.parametrize("path", FM_FILES, ids=lambda p: p.stem)
def test_every_mode_cuts_jitter_on_face_mesh(path):
    c = _clip(path)
    raw_j, raw_e = rd.jitter(c["z"], c["truth"], c["cuts"]), rd.rmse(c["z"], c["truth"])
    off = _out(path, "offline")
    assert raw_j / rd.jitter(off, c["truth"], c["cuts"]) >= 10.0  # goal 5 (today >= 14)
    assert rd.rmse(off, c["truth"]) < raw_e
    assert raw_j / rd.jitter(_out(path, "fixed_lag"), c["truth"], c["cuts"]) >= 2.5  # today >= 3.3
    # causal: >= 2.5x (today 2.8-15x), but through a partly covered face only 1.5x (1.8-2.3x):
    # the precise detector leaves less noise to remove than the covered frames add
    floor = 1.5 if c["name"].startswith("occlusion") else 2.5
    assert raw_j / rd.jitter(_out(path, "causal"), c["truth"], c["cuts"]) >= floor


@pytest.mark.parametrize("path", [p for p in FM_FILES if p.stem.startswith("nod") and not p.stem.endswith("camera")],
                         ids=lambda p: p.stem)
def test_face_mesh_fast_nod_offline(path):
    c = _clip(path)
    off = _out(path, "offline")
    assert abs(rd.lag(off, c["truth"])) <= 0.1
    assert rd.worst(off, c["truth"], slice(20, 80)) <= 1.0  # goal 2 % F; today <= 0.71
    assert rd.worst(off, c["truth"], slice(20, 80)) < rd.worst(c["z"], c["truth"], slice(20, 80))


@pytest.mark.parametrize("path", [p for p in FM_FILES if p.stem.startswith("cut")], ids=lambda p: p.stem)
@pytest.mark.parametrize("mode", ["offline", "fixed_lag", "causal"])
def test_face_mesh_cut_recovery_and_the_new_shots_first_frames(path, mode):
    c = _clip(path)
    out, cut = _out(path, mode), c["cuts"][0]
    assert rd.recovery(out, c["truth"], cut) <= 1
    # the start-of-shot glitch test runs once a shot: chained, it dropped frames 48-54 of the
    # 4K / 600 px clip one after the other (the head's step there is more than 6 of this
    # detector's noise stds) and the fixed-lag output sat 1.8 % F off for those 7 frames
    err = rd.per_frame_error(out, c["truth"])[cut:cut + 7]
    raw = rd.per_frame_error(c["z"], c["truth"])[cut:cut + 7]
    assert err.mean() < raw.mean() + 0.4


@pytest.mark.parametrize("path", [p for p in FM_FILES if p.stem.startswith("occlusion")], ids=lambda p: p.stem)
@pytest.mark.parametrize("mode", ["offline", "fixed_lag", "causal"])
def test_face_mesh_missed_frames_without_a_jump(path, mode):
    c = _clip(path)
    out = _out(path, mode)
    missed = ~np.all(np.isfinite(c["z"]), axis=(1, 2))
    assert missed.any() and np.all(np.isfinite(out[missed]))
    assert rd.miss_jump(out, c["truth"], missed) <= 0.5  # goal 2 % F; today <= 0.1
