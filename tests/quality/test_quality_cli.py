"""The quality command end to end on small videos this module writes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

cv2 = pytest.importorskip("cv2")

import ffaccel
from ffaccel.quality.__main__ import main

SRC = str(Path(ffaccel.__file__).resolve().parent.parent)
HEIGHT, WIDTH = 48, 64


def write_video(path: Path, frames: list[np.ndarray], fps: float = 30.0) -> Path:
    height, width = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (width, height))
    assert writer.isOpened()
    for frame in frames:
        writer.write(frame)
    writer.release()
    return path


def panning_clip(n: int, burst_at: int = -1, pop_at: int = -1, size=(HEIGHT, WIDTH)) -> list[np.ndarray]:
    """Smooth pattern panning 1 px/frame (8 px at burst_at); +40 brightness from pop_at."""
    height, width = size
    x = np.arange(width + 16 * n)
    row = 128 + 50 * np.sin(2 * np.pi * x / 48)
    pattern = np.repeat(row[None, :], height, axis=0)
    pattern += 20 * np.sin(2 * np.pi * np.arange(height) / 32)[:, None]
    offset, frames = 0, []
    for i in range(n):
        offset += 8 if i == burst_at else (1 if i else 0)
        frame = pattern[:, offset:offset + width] + (40 if 0 <= pop_at <= i else 0)
        frames.append(np.repeat(np.clip(np.rint(frame), 0, 255)[..., None], 3, axis=2).astype(np.uint8))
    return frames


@pytest.fixture(scope="module")
def videos(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("videos")
    target = panning_clip(36, burst_at=10)
    output = panning_clip(36, burst_at=10, pop_at=24)
    bad = root / "not_a_video.mp4"
    bad.write_bytes(b"this is not a video\n" * 50)
    return {
        "target": write_video(root / "target.mp4", target),
        "output": write_video(root / "output.mp4", output),
        "short": write_video(root / "short.mp4", target[:30]),
        "big": write_video(root / "big.mp4", panning_clip(36, size=(HEIGHT * 2, WIDTH))),
        "bad": bad,
        "root": root,
    }


def run_command(*args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=SRC + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.run([sys.executable, "-m", "ffaccel.quality", *args],
                          capture_output=True, text=True, env=env, timeout=60, check=False)


def test_command_measures_reports_and_finds_events(videos, tmp_path):
    pytest.importorskip("matplotlib", reason="--plot and --html need matplotlib (the demo extra)")
    report, plot, page = tmp_path / "r.json", tmp_path / "r.png", tmp_path / "r.html"
    result = run_command(str(videos["output"]), "--stride", "1", "--crop", "full",
                         "--json", str(report), "--plot", str(plot), "--html", str(page))
    assert result.returncode == 0, result.stderr
    assert "mean tPSNR" in result.stdout and "jitter events" in result.stdout
    assert "36/36" in result.stderr  # the progress bar reached the end
    data = json.loads(report.read_text())
    assert data["schema"] == "ffaccel.quality/2"
    assert data["summary"]["frames"] == 36
    # Both the motion burst (frame 10) and the brightness pop (frame 24) drop tPSNR.
    assert data["summary"]["jitter_event_frames"] == [10, 24]
    assert data["source"]["output"] == str(videos["output"])
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "data:image/png;base64," in page.read_text()


def test_command_relative_mode_ignores_real_motion(videos, tmp_path):
    report = tmp_path / "rel.json"
    result = run_command("quality", str(videos["output"]), "--reference", str(videos["target"]),
                         "--stride", "2", "--crop", "full", "--json", str(report), "--no-progress")
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    summary = json.loads(report.read_text())["summary"]
    assert summary["jitter_basis"] == "delta_tpsnr"
    assert summary["jitter_event_frames"] == [24]
    assert summary["mean_delta_tpsnr"] < 0
    assert "output lost" in result.stdout


@pytest.mark.parametrize(
    "case, message",
    [
        (lambda v: [str(v["root"] / "missing.mp4")], "output video not found"),
        (lambda v: [str(v["bad"])], "output video cannot be opened"),
        (lambda v: [str(v["root"])], "output video is a directory"),
        (lambda v: [str(v["output"]), "--reference", str(v["root"] / "nope.mp4")], "reference video not found"),
        (lambda v: [str(v["output"]), "--reference", str(v["big"])], "size mismatch"),
        (lambda v: [str(v["output"]), "--reference", str(v["short"])], "frame count mismatch"),
        (lambda v: [str(v["output"]), "--box", "500,0,510,10"], "--box"),
    ],
)
def test_command_bad_input_exits_2_with_one_line(videos, case, message):
    result = run_command(*case(videos), "--no-progress")
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("ffaccel quality: error:") and message in lines[0]


def test_frame_count_mismatch_found_while_streaming(videos, monkeypatch, capsys):
    # Containers that do not declare a frame count: the shorter stream ends first.
    from ffaccel.quality import video

    real_probe = video.probe
    monkeypatch.setattr(video, "probe", lambda path, role="input": real_probe(path, role).__class__(
        **{**real_probe(path, role).__dict__, "frame_count": 0}))
    code = main([str(videos["output"]), "--reference", str(videos["short"]), "--no-progress"])
    assert code == 2
    assert "reference video ended after 30 frames" in capsys.readouterr().err


@pytest.mark.parametrize("args", [["--box", "1,2,3"], ["--box", "10,10,5,20"], ["--region", "1,2,3,4"],
                                  ["--crop", "64"], ["--stride", "0"], ["--threshold", "-1"]])
def test_bad_options_are_usage_errors(videos, args):
    result = run_command(str(videos["output"]), *args)
    assert result.returncode == 2
    assert "usage:" in result.stderr


def test_unwritable_report_path_exits_2(videos, capsys):
    code = main([str(videos["output"]), "--json", str(videos["root"] / "no_dir" / "r.json"), "--no-progress"])
    assert code == 2
    assert "cannot write report" in capsys.readouterr().err


def _peak_memory(path: Path) -> int:
    tracemalloc.start()
    try:
        assert main([str(path), "--no-progress", "--stride", "1"]) == 0
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_memory_does_not_grow_with_video_length(tmp_path, capsys):
    size = (240, 320)  # 230 KB per frame: holding frames would show at once
    short = write_video(tmp_path / "s.mp4", panning_clip(8, size=size))
    long = write_video(tmp_path / "l.mp4", panning_clip(48, size=size))
    _peak_memory(short)  # warm imports and caches
    peak_short, peak_long = _peak_memory(short), _peak_memory(long)
    # 40 more frames held would add 9 MB; the per-sample records add a few KB.
    assert peak_long < peak_short + 1_000_000, (peak_short, peak_long)


def test_add_parser_registers_quality_on_a_top_level_parser(videos, capsys):
    import argparse

    from ffaccel.quality.cli import add_parser, run

    parser = argparse.ArgumentParser(prog="ffaccel")
    add_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["quality", str(videos["target"]), "--no-progress", "--crop", "32x16"])
    assert args.func is run and args.crop == (32, 16)
    assert args.func(args) == 0
    assert "centre crop 32x16" in capsys.readouterr().out


def test_old_region_option_says_how_to_convert(videos):
    result = run_command(str(videos["output"]), "--region", "1,2,3,4")
    assert result.returncode == 2 and "--box x,y,x+w,y+h" in result.stderr


def test_help_lists_the_options():
    result = run_command("--help")
    assert result.returncode == 0
    for option in ("--reference", "--box", "--json", "--plot", "--html", "--stride", "--threshold"):
        assert option in result.stdout
