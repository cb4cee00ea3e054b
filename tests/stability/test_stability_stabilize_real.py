"""Regression tests of ``stabilize_track`` on the real MTCNN tracks shipped in
tests/data/real_tracks (issue 13). Each test asserts a goal-level property with a
margin below what the filters achieve today, so a regression fails and noise in
the last digits does not. Errors are in % of the face width F (``_realdata``).

The cameraman clips (a small 3/4 view MTCNN barely finds) are left out of the
properties the benchmark reports on frontal faces only (tail spikes, worst frame).
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

from ffaccel import _core
from ffaccel.stability import LandmarkStabilizer, stabilize, stabilize_track
from ffaccel.stability import _realdata as rd

DATA = Path(__file__).resolve().parents[1] / "data" / "real_tracks"
FILES = sorted(DATA.glob("*.npz"))
MODES = ("offline", "fixed_lag", "causal")
NOD = slice(20, 80)  # the nod's frames (README of the tracks)


def _load(path: Path) -> dict:
    with np.load(path, allow_pickle=False) as d:
        return {"truth": d["truth"].astype(np.float64), "z": d["detected"].astype(np.float64),
                "cuts": [int(c) for c in d["cuts"]], "name": path.stem}


_CACHE: dict = {}


def _run(path: Path, mode: str) -> np.ndarray:
    key = (path.name, mode)
    if key not in _CACHE:
        _CACHE[key] = stabilize_track(_load(path)["z"], mode=mode)
    return _CACHE[key]


def _frontal(path: Path) -> bool:
    return not path.stem.endswith("camera")


def test_the_tracks_are_there():
    assert len(FILES) == 11


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_every_mode_cuts_jitter_and_error(path):
    c = _load(path)
    raw_j, raw_e = rd.jitter(c["z"], c["truth"], c["cuts"]), rd.rmse(c["z"], c["truth"])
    occluded = c["name"].startswith("occlusion")
    # offline: the goal (jitter <= raw / 5, RMSE below raw) on every clip
    out = _run(path, "offline")
    assert raw_j / rd.jitter(out, c["truth"], c["cuts"]) >= 5.0
    assert rd.rmse(out, c["truth"]) < 0.95 * raw_e
    # fixed-lag: at least 3x less jitter, error not above raw
    out = _run(path, "fixed_lag")
    assert raw_j / rd.jitter(out, c["truth"], c["cuts"]) >= 3.0
    assert rd.rmse(out, c["truth"]) < 1.05 * raw_e
    # causal: jitter <= raw / 2.5 (raw / 1.5 through the occlusions, which hold the last output)
    out = _run(path, "causal")
    assert raw_j / rd.jitter(out, c["truth"], c["cuts"]) >= (1.5 if occluded else 2.5)


@pytest.mark.parametrize("path", [p for p in FILES if p.stem.startswith(("still", "nod", "cut"))], ids=lambda p: p.stem)
def test_fixed_lag_stays_within_3x_offline_jitter(path):
    # goal 1.3x (not met; today 0.6-2.3x on these clips, 0.8-2.4x before the recent-RMS gate):
    # a bound that catches a regression
    c = _load(path)
    ratio = rd.jitter(_run(path, "fixed_lag"), c["truth"], c["cuts"]) / rd.jitter(_run(path, "offline"), c["truth"], c["cuts"])
    assert ratio <= 2.7


@pytest.mark.parametrize("path", [p for p in FILES if p.stem.startswith("nod")], ids=lambda p: p.stem)
def test_fast_nod_lag_and_worst_frame(path):
    c = _load(path)
    off = _run(path, "offline")
    assert abs(rd.lag(off, c["truth"])) <= 0.2  # goal 0.1 frame
    assert abs(rd.lag(_run(path, "fixed_lag"), c["truth"])) <= 0.4
    assert rd.lag(_run(path, "causal"), c["truth"]) <= 0.75  # goal: <= 1 frame
    worst_raw = rd.worst(c["z"], c["truth"], NOD)
    worst_off = rd.worst(off, c["truth"], NOD)
    assert worst_off < 0.8 * worst_raw  # zero lag: the smoothed nod is closer than the detections
    if _frontal(path):
        assert worst_off <= 2.0  # the goal, on the frontal faces


@pytest.mark.parametrize("path", [p for p in FILES if p.stem.startswith("cut")], ids=lambda p: p.stem)
@pytest.mark.parametrize("mode", MODES)
def test_cut_recovery_within_one_frame(path, mode):
    c = _load(path)
    assert rd.recovery(_run(path, mode), c["truth"], c["cuts"][0]) <= 1


SHOT_START = Path(__file__).resolve().parents[1] / "data" / "shot_start" / "cut_1080p_360_hopper_cv4.npz"


def test_offline_drops_a_glitch_at_a_shots_first_frame():
    # MTCNN's first detection after the cut (a whole-frame search) is 9.2 % F off, 8-11 noise
    # stds; the parabola test extrapolated from the next four frames missed it (output 6.6 and
    # 3.2 % F off at frames 48 and 49: recovery 2 frames); the end frames' line test drops it
    c = _load(SHOT_START)
    cut = c["cuts"][0]
    assert rd.per_frame_error(c["z"], c["truth"])[cut] > 9.0
    out = stabilize_track(c["z"], mode="offline")
    assert rd.recovery(out, c["truth"], cut) == 0
    assert rd.per_frame_error(out, c["truth"])[cut] < 2.0


SLOW_PAN_START = Path(__file__).resolve().parents[1] / "data" / "shot_start" / "slow_pan_1080p_360_astronaut_cv5.npz"


def test_offline_drops_a_glitch_three_frames_into_a_shot():
    # A slow pan, MTCNN under OpenCV 5.0: the detection at frame 3 is 1.5 % F off (about 1 %
    # F upward), its neighbours 0.4-1.0. It pulls their parabola tests, frames 0-5 are all
    # flagged, and the run that reaches the shot's start went back but for frame 0: the smoothed
    # track followed the glitch (0.99 % F off at frame 3; 3.3x less jitter than raw on the
    # clip, against 20x and more on its twins). One more pass after that rule drops it.
    c = _load(SLOW_PAN_START)
    z, truth = c["z"], c["truth"]
    assert rd.per_frame_error(z, truth)[3] > 1.4
    channels = np.empty((len(z), 14))
    _core.stab_rigid(np.ascontiguousarray(z), np.empty((5, 2)), channels)
    assert stabilize._outliers(channels, np.arange(len(z), dtype=float))[3]
    out = stabilize_track(z, mode="offline")
    assert rd.per_frame_error(out, truth)[:8].max() < 0.7
    assert rd.jitter(z, truth) / rd.jitter(out, truth) >= 10.0


MOTION_BLUR = Path(__file__).resolve().parents[1] / "data" / "motion_blur" / "nod_blur_720p_80_astronaut_cv5.npz"


def test_offline_holds_the_fast_nod_under_motion_blur():
    # the benchmark's blurred nod (180-degree shutter), its worst cell: the astronaut at 720p /
    # 80 px, MTCNN under OpenCV 5.0. At the nod's turn (frame 54) the one clean detection
    # (0.3 % F off) sits between neighbours 1.2-1.6 % F off, 7.3 robust stds off their
    # parabola in a scale measured mostly at rest: the glitch test dropped it and the worst
    # frame was 2.45 % F (raw 1.98). The test's scale now grows with the head's speed:
    # 1.85 % F, the goal (2) met
    c = _load(MOTION_BLUR)
    off = stabilize_track(c["z"], mode="offline")
    assert rd.worst(off, c["truth"], NOD) <= 2.0
    assert rd.jitter(c["z"], c["truth"], c["cuts"]) / rd.jitter(off, c["truth"], c["cuts"]) >= 5.0
    assert rd.rmse(off, c["truth"]) < 0.95 * rd.rmse(c["z"], c["truth"])
    assert abs(rd.lag(off, c["truth"])) <= 0.1


def _bench_shot_ends():
    spec = importlib.util.spec_from_file_location(
        "bench_shot_ends", Path(__file__).resolve().parents[2] / "benchmarks" / "bench_shot_ends.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_offline_shots_cut_mid_nod_stay_on_the_face():
    # benchmarks/bench_shot_ends.py on the four shipped nod tracks: each cut at every second
    # frame (its first L frames, or its last L), scored on the 3 frames at the cut. Before the
    # end rule (at most one frame dropped at a shot end, confirmed by a parabola) the offline
    # output there was up to 35 % F off (raw detections 1 % F: 3 end frames at a turn of the
    # nod dropped and extrapolated), 29 of 296 pieces more than 2 % F worse than raw; now
    # at most 5.1 % F worse, 11 pieces over 2 % F
    rows = [r for p in FILES if p.stem.startswith("nod") for r in _bench_shot_ends().score_track(p)]
    assert len(rows) == 296
    excess = np.array([r["offline"] - r["raw"] for r in rows])
    assert excess.max() < 6.0
    assert (excess > 2.0).sum() <= 15
    assert np.mean([r["offline"] for r in rows]) < np.mean([r["raw"] for r in rows])


def test_bench_shot_ends_writes_its_summary(tmp_path, monkeypatch, capsys):
    bench = _bench_shot_ends()
    out = tmp_path / "ends.json"
    monkeypatch.setattr("sys.argv", ["bench_shot_ends.py", "--tracks", str(DATA), "--json", str(out)])
    assert bench.main() == 0
    report = json.loads(out.read_text())
    assert [t["scenario"] for t in report["summary"]] == ["nod", "all"]
    assert report["summary"][-1]["pieces"] == len(report["pieces"]) == 296
    assert "raw+2%F" in capsys.readouterr().out
    monkeypatch.setattr("sys.argv", ["bench_shot_ends.py", "--tracks", str(tmp_path)])
    assert bench.main() == 2  # no tracks there: says so and fails


@pytest.mark.parametrize("path", [p for p in FILES if p.stem.startswith("occlusion")], ids=lambda p: p.stem)
@pytest.mark.parametrize("mode", MODES)
def test_missed_frames_are_filled_without_a_jump(path, mode):
    c = _load(path)
    out = _run(path, mode)
    missed = ~np.all(np.isfinite(c["z"]), axis=(1, 2))
    assert missed.any() and np.all(np.isfinite(out[missed]))
    # interpolated (offline) / held (streaming): the step at and after a miss, against the truth's
    assert rd.miss_jump(out, c["truth"], missed) <= (0.5 if mode == "offline" else 4.0)


@pytest.mark.parametrize("path", [p for p in FILES if _frontal(p) and p.stem.startswith(("still", "cut", "occlusion"))],
                         ids=lambda p: p.stem)
@pytest.mark.parametrize("mode", MODES)
def test_no_tail_spikes_on_frontal_faces(path, mode):
    c = _load(path)
    assert rd.tail_spikes(_run(path, mode), c["truth"]) == 0


@pytest.mark.parametrize("mode", ["causal", "fixed_lag"])
def test_track_equals_frame_by_frame_updates(mode):
    # stabilize_track's streaming modes skip the per-frame argument checks: same bytes as update()
    c = _load(DATA / "occlusion_720p_80_astronaut.npz")
    st = LandmarkStabilizer(mode=mode, lag=3)
    rows = [st.update(None if np.isnan(p[0, 0]) else p) for p in c["z"]]
    rows = rows[st.delay:] + st.flush()
    manual = np.array([np.full((5, 2), np.nan) if r is None else r for r in rows])
    np.testing.assert_array_equal(manual, _run(DATA / "occlusion_720p_80_astronaut.npz", mode))


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_the_offline_end_step_removes_tail_moves_and_keeps_the_error(path):
    # stabilize_track's end step (end_frames=12, the default) against the bank's own end
    # (end_frames=0): no more crop moves in the tail, and no more error there; on the clips
    # that end in motion (occlusion: a slow pan) no more error at all
    c = _load(path)
    on, off = _run(path, "offline"), stabilize_track(c["z"], end_frames=0)
    assert rd.tail_spikes(on, c["truth"]) <= rd.tail_spikes(off, c["truth"])
    tail = slice(-rd.TAIL, None)
    e_on = np.sqrt(np.mean(rd.per_frame_error(on, c["truth"])[tail] ** 2))
    e_off = np.sqrt(np.mean(rd.per_frame_error(off, c["truth"])[tail] ** 2))
    assert e_on <= (1.0 if c["name"].startswith("occlusion") else 1.05) * e_off
