"""benchmarks/real/deviation_bound.py (the causal-bound study, benchmarks/study_causal_bound.py)
against an independent reference, with its properties, and the study's command line on the
shipped real tracks."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parents[2]
_SPEC = importlib.util.spec_from_file_location("deviation_bound", ROOT / "benchmarks" / "real" / "deviation_bound.py")
db = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(db)
TRACKS = ROOT / "tests" / "data" / "real_tracks"


def _reference(output, detected, k):
    """The bound written out frame by frame from its definition: the face width and the noise
    level from whole-history arrays cut to their windows, the limit on the centroid shift."""
    out = np.array(output, dtype=np.float64)
    valid = [t for t in range(len(detected)) if np.isfinite(detected[t]).all() and np.isfinite(output[t]).all()]
    all_widths = [2 * np.hypot(*(detected[s][1] - detected[s][0])) for s in valid]
    # the face width at the n-th valid frame: the median of the widths up to it, cut to the window
    faces = [np.median(all_widths[: n + 1][-db.WIDTH_WINDOW:]) for n in range(len(valid))]
    # each centre is scaled by the face width of the frame it was taken at
    all_centres = [detected[s].mean(axis=0) / faces[n] for n, s in enumerate(valid)]
    for n, t in enumerate(valid):
        centres = all_centres[: n + 1]
        fourth = [np.abs(centres[j] - 4 * centres[j - 1] + 6 * centres[j - 2] - 4 * centres[j - 3] + centres[j - 4])
                  for j in range(4, len(centres))][-db.WINDOW:]
        if len(fourth) < db.MIN_DIFFS:
            continue
        sigma = np.median(np.ravel(fourth)) / (0.6745 * np.sqrt(70))
        face = faces[n]
        shift = (out[t] - detected[t]).mean(axis=0) / face
        limit = k * np.sqrt(2) * sigma
        if np.hypot(*shift) > limit:
            out[t] = out[t] - shift * face + shift / np.hypot(*shift) * limit * face
    return out


def _track(seed, frames=40, lag=0.0, miss=()):
    rng = np.random.default_rng(seed)
    base = np.array([[40.0, 50], [80, 50], [60, 70], [45, 90], [75, 90]]) * 2
    t = np.arange(frames)[:, None, None]
    truth = base + np.concatenate([40 * np.sin(t / 4.0), 10 * np.cos(t / 5.0)], axis=2)
    det = truth + rng.normal(0, 1.5, (frames, 1, 2)) + rng.normal(0, 0.4, truth.shape)
    out = truth + lag * np.concatenate([np.cos(t / 4.0), np.zeros_like(t, dtype=float)], axis=2) * 10
    for m in miss:
        det[m] = np.nan
    return det, out


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), k=st.floats(0.5, 6.0), lag=st.floats(0.0, 3.0),
       miss=st.lists(st.integers(0, 39), max_size=4, unique=True))
def test_equals_the_reference_and_never_strays_past_its_limit(seed, k, lag, miss):
    det, out = _track(seed, lag=lag, miss=miss)
    got = db.bound_to_detections(out, det, k)
    np.testing.assert_allclose(got, _reference(out, det, k), rtol=0, atol=1e-9, equal_nan=True)
    moved = np.any(np.abs(got - out) > 1e-12, axis=(1, 2))
    # a frame moves by one shift of all its points, towards its detection, never past it
    for t in np.flatnonzero(moved):
        step = got[t] - out[t]
        np.testing.assert_allclose(step, np.broadcast_to(step[0], step.shape), atol=1e-9)
        before = np.linalg.norm((out[t] - det[t]).mean(axis=0))
        after = np.linalg.norm((got[t] - det[t]).mean(axis=0))
        assert after < before
    assert not moved[np.flatnonzero(~np.isfinite(det).all(axis=(1, 2)))].any()  # missed frames stay


def test_an_output_inside_the_bound_is_returned_unchanged():
    det, _ = _track(3)
    np.testing.assert_array_equal(db.bound_to_detections(det, det, 3.0), det)


def test_a_lagging_output_is_pulled_in_and_a_larger_k_pulls_less():
    det, out = _track(5, lag=2.0)
    late = slice(db.MIN_DIFFS + 4, None)  # frames where the bound applies (4 more make the first difference)
    errs = [np.abs((db.bound_to_detections(out, det, k) - det)[late].mean(axis=1)).max() for k in (1.0, 3.0, 6.0)]
    assert errs[0] < errs[1] < errs[2] < np.abs((out - det)[late].mean(axis=1)).max()


def test_bad_k_is_refused():
    det, out = _track(1)
    with pytest.raises(ValueError, match="k must be > 0"):
        db.bound_to_detections(out, det, 0.0)


def test_the_study_runs_on_the_shipped_real_tracks(tmp_path):
    js, png = tmp_path / "bound.json", tmp_path / "bound.png"
    plot = ["--plot", str(png)] if importlib.util.find_spec("matplotlib") else []
    run = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "study_causal_bound.py"), "--tracks", str(TRACKS),
                          "--k", "3", "--json", str(js), *plot], capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr
    if plot:
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    res = json.loads(js.read_text())["scenarios"]
    assert {"nod", "still"} <= set(res)
    nod = res["nod"]
    assert set(nod) == {"raw", "causal", "bound k=3"}
    # the aggregation, against the metrics computed here from the same tracks
    from ffaccel.stability import _realdata as rd
    from ffaccel.stability import stabilize_track

    clips = []
    for path in sorted(TRACKS.glob("nod_*.npz")):
        with np.load(path) as d:
            if str(d["photo"]) in ("astronaut", "hopper"):
                clips.append((d["detected"], d["truth"], [int(c) for c in d["cuts"]]))
    assert nod["causal"]["clips"] == len(clips) > 0
    raw_j = np.mean([rd.jitter(det, truth, cuts) for det, truth, cuts in clips])
    causal = [stabilize_track(det, mode="causal") for det, _, _ in clips]
    causal_j = np.mean([rd.jitter(o, truth, cuts) for o, (_, truth, cuts) in zip(causal, clips)])
    assert nod["causal"]["jitter_ratio_mean"] == pytest.approx(raw_j / causal_j, rel=1e-9)
    assert nod["causal"]["rmse"] == pytest.approx(np.mean([rd.rmse(o, c[1]) for o, c in zip(causal, clips)]), rel=1e-9)
    assert f"| nod | causal | {nod['causal']['jitter_ratio_mean']:.2f}x" in run.stdout


def test_the_study_refuses_bad_arguments(tmp_path):
    script = str(ROOT / "benchmarks" / "study_causal_bound.py")
    bad_k = subprocess.run([sys.executable, script, "--tracks", str(TRACKS), "--k", "x"], capture_output=True, text=True)
    assert bad_k.returncode == 2 and "--k" in bad_k.stderr
    empty = subprocess.run([sys.executable, script, "--tracks", str(tmp_path)], capture_output=True, text=True)
    assert empty.returncode != 0 and "no frontal-photo tracks" in empty.stderr
