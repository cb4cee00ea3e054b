"""``ffaccel demo`` end to end at a tiny size with every optional package, its measurements, and its
option errors. tests/demo/test_demo_optional.py runs it with OpenCV and matplotlib hidden."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

cv2 = pytest.importorskip("cv2")
pytest.importorskip("matplotlib")

from ffaccel.cli import main
from ffaccel.demo.clip import SOURCE_FIVE, TARGET_FIVE, ClipSpec, SyntheticClip, fit_68, five_from_68
from ffaccel.demo.cli import parse_resolution
from ffaccel.demo.report import footprint_track, track_metrics

FRAMES, WIDTH, HEIGHT, CROP = 10, 320, 240, 256
ARTEFACTS = ["swapped.mp4", "comparison.mp4", "quality.json", "timing.md", "timing.json", "landmarks.png",
             "landmarks.npz"] + [f"quality_{v}.{e}" for v in ("raw", "stabilised") for e in ("json", "png", "html")]


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("demo") / "out"
    status = main(["demo", "--frames", str(FRAMES), "--resolution", f"{WIDTH}x{HEIGHT}", "--crop-size", str(CROP),
                   "--device", "cpu", "--output", str(out), "--no-progress"])
    assert status == 0
    return out


def test_every_artefact_is_written(demo_dir: Path) -> None:
    for name in ARTEFACTS:
        path = demo_dir / name
        assert path.is_file() and path.stat().st_size > 0, name


@pytest.mark.parametrize("name", ["swapped.mp4", "comparison.mp4"])
def test_videos_have_every_frame_at_the_asked_size(demo_dir: Path, name: str) -> None:
    cap = cv2.VideoCapture(str(demo_dir / name))
    frames = []
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        frames.append(frame)
    cap.release()
    assert len(frames) == FRAMES
    assert frames[0].shape == (HEIGHT, WIDTH, 3)


def test_quality_json_shows_stabilisation_reduced_jitter(demo_dir: Path) -> None:
    q = json.loads((demo_dir / "quality.json").read_text())
    assert q["schema"] == "ffaccel.demo.quality/1"
    raw, stab = q["variants"]["raw"], q["variants"]["stabilised"]
    assert stab["landmarks"]["jitter_px"] < raw["landmarks"]["jitter_px"]
    assert stab["footprint"]["jitter_px"] < raw["footprint"]["jitter_px"]
    assert stab["pixel_jitter_vs_truth"] < raw["pixel_jitter_vs_truth"]
    assert q["stabilisation"]["reduced_jitter"] is True
    # The same figures, recomputed here from the landmark tracks the run saved.
    tracks = np.load(demo_dir / "landmarks.npz")
    unit = HEIGHT / 1080
    for variant, key in (("raw", "noisy5"), ("stabilised", "stabilised5")):
        lm = track_metrics(tracks[key], tracks["truth5"], unit)
        assert lm["jitter_px"] == pytest.approx(q["variants"][variant]["landmarks"]["jitter_px"], rel=1e-9)
        fp = track_metrics(footprint_track(tracks[key], CROP), footprint_track(tracks["truth5"], CROP), unit)
        assert fp["jitter_px"] == pytest.approx(q["variants"][variant]["footprint"]["jitter_px"], rel=1e-9)
    # The QualityMonitor reports are relative to the ground-truth render.
    for variant in ("raw", "stabilised"):
        report = json.loads((demo_dir / f"quality_{variant}.json").read_text())
        assert report["schema"] == "ffaccel.quality/2"
        assert report["summary"]["frames"] == FRAMES
        assert "mean_delta_tpsnr" in report["summary"]


def test_timing_json_is_consistent(demo_dir: Path) -> None:
    t = json.loads((demo_dir / "timing.json").read_text())
    paths = t["paths"]
    assert set(paths) == {"facefusion", "ffaccel-cpu"}
    for entry in paths.values():
        assert entry["faces"] == 2 * FRAMES
        assert set(entry["steps"]) == {"align", "warp", "swap", "mask", "paste"}
        assert all(s["median"] > 0 for s in entry["steps"].values())
    base, cpu = paths["facefusion"], paths["ffaccel-cpu"]
    assert cpu["speedup"]["total"] == pytest.approx(base["total"]["median"] / cpu["total"]["median"])
    table = (demo_dir / "timing.md").read_text()
    assert "total per face" in table and "speed-up" in table


def test_ffaccel_paste_matches_facefusion_closely(demo_dir: Path) -> None:
    agree = json.loads((demo_dir / "quality.json").read_text())["paths_agree_with_facefusion"]["ffaccel-cpu"]
    # Warp and paste are FaceFusion's bytes; only the colour transfer's rounding may differ by a level.
    assert agree["max_abs_diff"] <= 2


def test_fitted_68_points_reduce_to_the_annotation() -> None:
    for five in (TARGET_FIVE, SOURCE_FIVE):
        assert np.abs(five_from_68(fit_68(five)) - five).max() < 1e-9


def test_clip_ground_truth_follows_the_frames() -> None:
    clip = SyntheticClip(ClipSpec(frames=4, width=320, height=240))
    assert clip.frame(0).shape == (240, 320, 3)
    assert clip.truth68.shape == (4, 68, 2) and clip.noisy5.shape == (4, 5, 2)
    np.testing.assert_allclose(five_from_68(clip.truth68), clip.truth5)


@pytest.mark.parametrize(
    "argv, needle",
    [
        (["--frames", "0"], "--frames"),
        (["--frames", "ten"], "--frames"),
        (["--resolution", "1080"], "--resolution"),
        (["--resolution", "321x240"], "even"),
        (["--resolution", "10x10"], "--resolution"),
        (["--device", "gpu"], "--device"),
        (["--crop-size", "300"], "--crop-size"),
        (["--bogus"], "--bogus"),
    ],
)
def test_bad_options_exit_non_zero_with_one_line(argv: list[str], needle: str, capsys: pytest.CaptureFixture[str],
                                                 tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["demo", *argv, "--output", str(tmp_path / "o")])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("ffaccel demo: error:") and needle in err
    assert not (tmp_path / "o").exists()


def test_output_that_is_a_file_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "file"
    target.write_text("x")
    assert main(["demo", "--output", str(target), "--frames", "3", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not a folder" in err


def test_device_cuda_without_a_usable_gpu_is_one_clear_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from ffaccel.demo.pipeline import cuda_backend

    if cuda_backend()[0] is not None:
        pytest.skip("a GPU is usable here")
    assert main(["demo", "--device", "cuda", "--output", str(tmp_path / "o"), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("ffaccel demo: error: --device cuda:")


def test_with_every_optional_package_there_are_no_notes(demo_dir: Path) -> None:
    md = (demo_dir / "timing.md").read_text()
    assert "Note:" not in md and "skipped" not in md
    q = json.loads((demo_dir / "quality.json").read_text())
    assert q["skipped"] == {} and q["paths_agree_with_facefusion"] is not None


def test_scikit_image_is_not_needed(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setitem(sys.modules, "skimage", None)  # makes `import skimage` fail
    out = tmp_path / "o"
    assert main(["demo", "--frames", "3", "--resolution", "128x96", "--crop-size", "128", "--device", "cpu",
                 "--output", str(out), "--no-progress", "--no-video"]) == 0
    assert "note:" not in capsys.readouterr().out
    assert (out / "quality.json").is_file()


def test_parse_resolution_names_and_sizes() -> None:
    assert parse_resolution("1080p") == (1920, 1080)
    assert parse_resolution("720P") == (1280, 720)
    assert parse_resolution("640x360") == (640, 360)


@pytest.mark.cuda
def test_cuda_path_runs_and_matches_the_cpu_path(tmp_path: Path) -> None:
    from ffaccel.demo.pipeline import cuda_backend

    if cuda_backend()[0] is None:
        pytest.skip(cuda_backend()[1])
    out = tmp_path / "cuda"
    assert main(["demo", "--frames", "6", "--resolution", "640x360", "--crop-size", "256", "--device", "cuda",
                 "--output", str(out), "--no-progress", "--no-video"]) == 0
    t = json.loads((out / "timing.json").read_text())
    assert {"upload", "download", "warp", "paste"} <= set(t["paths"]["ffaccel-cuda"]["steps"])
    q = json.loads((out / "quality.json").read_text())
    assert q["measured_path"] == "ffaccel-cuda"
    agree = q["paths_agree_with_facefusion"]
    assert agree["ffaccel-cuda"]["max_abs_diff"] <= 2 and agree["ffaccel-cpu"]["max_abs_diff"] <= 2


def test_agreement_verdict_lines():
    from ffaccel.demo.cli import agreement_lines

    same = {"ffaccel-cpu": {"max_abs_diff": 0, "differing_values": 0, "identical_frames": 6}}
    assert agreement_lines(same, 3) == ["agreement: ffaccel-cpu is byte-identical to the FaceFusion-style path "
                                        "(6 of 6 frames)"]
    diff = {"ffaccel-cpu": {"max_abs_diff": 1, "differing_values": 654894, "identical_frames": 0}}
    (line,) = agreement_lines(diff, 3)
    assert "DIFFERS" in line and "654894 values" in line and "max difference 1" in line
    assert agreement_lines(None, 3) == ["agreement: not checked (the FaceFusion-style path needs OpenCV)"]


def test_clean_artefacts_removes_only_the_demos_own_files(tmp_path):
    from ffaccel.demo.runner import clean_artefacts

    own = ["swapped_frame_0010.png", "comparison_frame_0042.png", "quality.json", "quality_raw.html",
           "timing.md", "landmarks.npz", "swapped.mp4"]
    other = ["notes.txt", "my_swapped.png", "quality_report.pdf"]
    for name in own + other:
        (tmp_path / name).write_text("x")
    (tmp_path / "sub").mkdir()
    removed = clean_artefacts(tmp_path)
    assert sorted(p.name for p in removed) == sorted(own)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(other + ["sub"])
