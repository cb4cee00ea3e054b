"""ffaccel.distributed.facefusion: face linking (always) and a smoke test against a real FaceFusion.

The smoke test needs ``FFACCEL_FACEFUSION_SRC`` (a FaceFusion 3.5-3.8 checkout) with its
runtime (onnxruntime) and models available; it is skipped, with the reason, otherwise.
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
