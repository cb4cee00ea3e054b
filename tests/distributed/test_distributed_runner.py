"""ffaccel.distributed.run_jobs on a local Ray cluster of 2 CPUs (CI: no GPU).

Three short demo clips: the output is byte-identical to the one-process run; an actor
process killed mid-segment is recovered with the same bytes; a corrupt or missing input
fails its own job only.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

import numpy as np
import pytest

ray = pytest.importorskip("ray", reason='Ray is not installed (pip install "ffaccel[ray]"): distributed runner '
                                        "tests skipped")

from ffaccel.distributed import (  # noqa: E402
    DemoPipeline,
    FfrReader,
    Job,
    read_ffr,
    run_jobs,
    run_local,
    write_demo_clips,
)

FRAMES, SEG = 24, 8


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    d = tmp_path_factory.mktemp("distributed")
    paths = write_demo_clips(d / "in", 3, frames=FRAMES, width=320, height=180)
    refs = [run_local(Job(p, d / f"ref_{k}.ffr"), DemoPipeline(crop_size=96)) for k, p in enumerate(paths)]
    return d, paths, refs


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if ".tmp-" in p.name or ".parts-" in p.name)


@pytest.mark.parametrize("codec", ["raw", "zlib"])  # raw: frames written in place; zlib: segment files joined
def test_byte_identical_to_one_process(cluster, clips, tmp_path, codec):
    d, paths, refs = clips
    if codec != "raw":
        refs = [run_local(Job(p, tmp_path / f"ref_{k}.ffr"), DemoPipeline(crop_size=96), codec=codec)
                for k, p in enumerate(paths)]
    ref_dir = d if codec == "raw" else tmp_path
    jobs = [Job(p, tmp_path / f"out_{k}.ffr") for k, p in enumerate(paths)]
    results = run_jobs(jobs, DemoPipeline(crop_size=96), segment_frames=SEG, progress=False, codec=codec)
    for k, r in enumerate(results):
        assert r.ok, r.error
        assert r.segments == [(0, 8), (8, 16), (16, 24)]
        # the stabilised track crosses two segment boundaries and is exactly the one-process track
        np.testing.assert_array_equal(r.track, refs[k].track)
        assert (tmp_path / f"out_{k}.ffr").read_bytes() == (ref_dir / f"ref_{k}.ffr").read_bytes()
    assert _leftovers(tmp_path) == []


class KillOnce(DemoPipeline):
    """The demo pipeline whose actor process SIGKILLs itself once, in the middle of one segment."""

    def __init__(self, marker: str, video: str, frame: int) -> None:
        super().__init__(crop_size=96)
        self.marker, self.video, self.frame = marker, video, frame

    def process(self, frames, landmarks, indices, meta):
        if meta.get("demo_seed") == int(self.video) and self.frame in indices and not os.path.exists(self.marker):
            Path(self.marker).write_text(str(os.getpid()))
            os.kill(os.getpid(), signal.SIGKILL)
        return super().process(frames, landmarks, indices, meta)


def test_killed_actor_is_recovered(cluster, clips, tmp_path):
    d, paths, refs = clips
    marker = tmp_path / "killed"
    # demo seed 8 is clip 1; frame 13 is in the middle of its segment 8..16 (batches of 4: the first batch is written)
    pipeline = KillOnce(os.fspath(marker), "8", 13)
    pipeline.batch_size = 4
    jobs = [Job(p, tmp_path / f"out_{k}.ffr") for k, p in enumerate(paths)]
    results = run_jobs(jobs, pipeline, segment_frames=SEG, progress=False)
    assert marker.exists(), "the actor was never killed: the test did not test anything"
    for k, r in enumerate(results):
        assert r.ok, r.error
        out = tmp_path / f"out_{k}.ffr"
        assert FfrReader(out).frames == FRAMES  # no frame lost or duplicated
        assert out.read_bytes() == (d / f"ref_{k}.ffr").read_bytes()
    assert _leftovers(tmp_path) == []


def test_corrupt_and_missing_inputs_fail_alone(cluster, clips, tmp_path):
    d, paths, _ = clips
    good = paths[0].read_bytes()
    truncated = tmp_path / "truncated.ffr"
    truncated.write_bytes(good[: len(good) // 2])
    # a flipped byte in frame 20's payload: the file opens; a worker finds it in pass 1
    flipped = tmp_path / "flipped.ffr"
    bad = bytearray(good)
    bad[int(FfrReader(paths[0])._offsets[20]) + 10] ^= 0xFF
    flipped.write_bytes(bytes(bad))
    jobs = [Job(truncated, tmp_path / "o_trunc.ffr"), Job(paths[1], tmp_path / "o_good.ffr"),
            Job(tmp_path / "missing.ffr", tmp_path / "o_missing.ffr"), Job(flipped, tmp_path / "o_flip.ffr")]
    results = run_jobs(jobs, DemoPipeline(crop_size=96), segment_frames=SEG, progress=False)
    assert [r.ok for r in results] == [False, True, False, False]
    assert results[0].error_type == "CorruptVideoError" and "truncated.ffr" in results[0].error
    assert results[2].error_type == "MissingVideoError" and "missing.ffr" in results[2].error
    assert results[3].error_type == "CorruptVideoError" and "frame 20: checksum" in results[3].error
    assert (tmp_path / "o_good.ffr").read_bytes() == (d / "ref_1.ffr").read_bytes()
    assert not any((tmp_path / n).exists() for n in ("o_trunc.ffr", "o_missing.ffr", "o_flip.ffr"))
    assert _leftovers(tmp_path) == []


def test_progress_reports_every_job(cluster, clips, tmp_path):
    import io

    _, paths, _ = clips
    stream = io.StringIO()
    results = run_jobs([Job(paths[2], tmp_path / "o.ffr")], DemoPipeline(crop_size=96), segment_frames=SEG,
                       progress=True, stream=stream, workers=1)
    assert results[0].ok
    text = stream.getvalue()
    assert "clip_2.ffr" in text and f"swap {FRAMES}/{FRAMES} done" in text and "frames/s" in text
    assert text.rstrip().endswith("frames/s, actors 1/1 started")  # the last block: the one actor started


def test_actor_profiles(cluster, clips, tmp_path, monkeypatch):
    """FFACCEL_DISTRIBUTED_PROFILE: each actor writes its cProfile data and one record per call, every
    segment once per pass; the output is still the one-process bytes."""
    import json
    import pstats

    d, paths, _ = clips
    monkeypatch.setenv("FFACCEL_DISTRIBUTED_PROFILE", str(tmp_path / "prof"))
    results = run_jobs([Job(paths[1], tmp_path / "o.ffr")], DemoPipeline(crop_size=96), segment_frames=SEG,
                       progress=False, workers=2)
    assert results[0].ok and (tmp_path / "o.ffr").read_bytes() == (d / "ref_1.ffr").read_bytes()
    infos = [json.loads(p.read_text()) for p in sorted((tmp_path / "prof").glob("actor-*.json"))]
    assert len(infos) == 2 and all(i["ffaccel_threads"] == 1 and i["nice"] == os.nice(0) for i in infos)
    calls = [c for i in infos for c in i["calls"]]
    for method in ("detect", "swap"):
        done = sorted((c["segment"], c["frames"]) for c in calls if c["method"] == method)
        assert done == [(0, SEG), (1, SEG), (2, SEG)]
    assert all(c["stop"] >= c["start"] for c in calls)
    stats = pstats.Stats(*[str(p) for p in (tmp_path / "prof").glob("actor-*.prof")])
    assert any(name == "process" for (_, _, name) in stats.stats)  # type: ignore[attr-defined]


def test_bad_arguments(cluster, clips, tmp_path):
    _, paths, _ = clips
    with pytest.raises(TypeError, match="pipeline"):
        run_jobs([Job(paths[0], tmp_path / "o.ffr")], object())  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="segment_frames"):
        run_jobs([Job(paths[0], tmp_path / "o.ffr")], DemoPipeline(), segment_frames=0)
    assert read_ffr(paths[0]).shape == (FRAMES, 180, 320, 3)


class FromClip(DemoPipeline):
    """The demo pipeline on a re-encoded demo clip: the detections come from the original .ffr's metadata."""

    def __init__(self, clip: str) -> None:
        super().__init__(crop_size=96)
        self.clip = clip

    def detect(self, frames, indices, meta):
        return super().detect(frames, indices, FfrReader(self.clip).meta)


def test_mp4_input_and_mkv_output(cluster, clips, tmp_path):
    """An x264 input cut at its keyframes gives the one-process bytes; a .mkv output holds the same frames (FFV1)."""
    pytest.importorskip("imageio_ffmpeg", reason="imageio-ffmpeg is not installed: mp4 input not tested")
    from ffaccel.distributed.video import FfmpegReader, export_video, import_video

    _, paths, _ = clips
    mp4 = export_video(paths[0], tmp_path / "in.mp4", codec="libx264")  # x264's default GOP: one keyframe here
    # a keyframe every 8 frames, so that the clip is cut into 3 segments
    import imageio_ffmpeg

    frames = read_ffr(paths[0])
    w = imageio_ffmpeg.write_frames(str(tmp_path / "g8.mp4"), (320, 180), pix_fmt_in="bgr24", fps=30, codec="libx264",
                                    quality=None, macro_block_size=1, output_params=["-g", "8"])
    w.send(None)
    for f in frames:
        w.send(np.ascontiguousarray(f))
    w.close()
    assert FfmpegReader(tmp_path / "g8.mp4").keyframes.tolist() == [0, 8, 16]
    pipe = FromClip(str(paths[0]))
    for name in ("g8.mp4", "in.mp4"):
        run_local(Job(tmp_path / name, tmp_path / f"{name}.ref.ffr"), pipe)
    results = run_jobs([Job(tmp_path / "g8.mp4", tmp_path / "g8.ffr"), Job(mp4, tmp_path / "in.mkv")], pipe,
                       segment_frames=SEG, progress=False)
    assert [r.ok for r in results] == [True, True], [r.error for r in results]
    assert results[0].segments == [(0, 8), (8, 16), (16, 24)] and results[1].segments == [(0, 24)]
    assert (tmp_path / "g8.ffr").read_bytes() == (tmp_path / "g8.mp4.ref.ffr").read_bytes()
    np.testing.assert_array_equal(read_ffr(import_video(tmp_path / "in.mkv", tmp_path / "back.ffr")),
                                  read_ffr(tmp_path / "in.mp4.ref.ffr"))
    assert _leftovers(tmp_path) == []


def test_docs_example_runs(cluster, tmp_path, monkeypatch, capsys):
    """The Python example at the top of docs/distributed.md runs as written."""
    pytest.importorskip("imageio_ffmpeg", reason="the example writes .mkv outputs (imageio-ffmpeg)")
    import re

    doc = (Path(__file__).resolve().parents[2] / "docs" / "distributed.md").read_text()
    code = re.search(r"```python\n(.*?)```", doc, re.S).group(1)
    monkeypatch.chdir(tmp_path)
    exec(compile(code, "docs/distributed.md", "exec"), {})
    out = capsys.readouterr().out
    assert out.count(" ok [(0, 8), (8, 16), (16, 24)]") == 3
    assert sorted(p.name for p in tmp_path.glob("*.mkv")) == [f"clip_{k}_swapped.mkv" for k in range(3)]
