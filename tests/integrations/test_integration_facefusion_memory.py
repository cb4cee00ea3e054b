"""Real FaceFusion 3.8, its own default workflow: frames in memory, no temp frames.

FaceFusion 3.8 pipes each frame from the decoder through the processors to the encoder
(``--workflow-strategy memory``, its default); the other end-to-end tests ask for the disk
workflow, whose PNG temp frames the byte comparison reads. Here only the output video is
left to compare: 8 frames of the demo clip at 320x240, stock and exact mode, decoded frame
by frame (``ffmpeg -f framemd5``). Skipped, with the reason, as
test_integration_facefusion_e2e.py is, and where the FaceFusion given has no
``--workflow-strategy`` (3.5-3.7).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/: the shared helpers

FRAMES, WIDTH, HEIGHT = 8, 320, 240


@pytest.fixture(scope="module")
def memory_runs(tmp_path_factory):
    import facefusion_e2e_harness as H

    work = tmp_path_factory.mktemp("ffmem")
    run, why = H.setup(work, sys.executable, FRAMES, WIDTH, HEIGHT)
    if run is None:
        pytest.skip(why)
    if "--workflow-strategy" not in H.facefusion_flags(run.facefusion):
        pytest.skip("this FaceFusion has no --workflow-strategy (the memory workflow is 3.8's)")
    runs = {v: H.run_facefusion(run.facefusion, sys.executable, v, run.case, work / v, run.bin_dir,
                                ffaccel_src=run.ffaccel_src, timeout=600, workflow="memory")
            for v in ("stock", "exact")}
    return H, runs, run.bin_dir


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
