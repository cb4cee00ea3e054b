"""Streaming video reader: probe, read/skip, prefetch thread, error messages."""

from __future__ import annotations

import builtins
import sys

import numpy as np
import pytest

cv2 = pytest.importorskip("cv2")

from ffaccel.quality.monitor import frame_needed
from ffaccel.quality.video import (
    VideoError,
    VideoInfo,
    VideoReader,
    check_same_geometry,
    prefetch_frames,
    probe,
)

N_FRAMES, HEIGHT, WIDTH = 12, 32, 48


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    path = tmp_path_factory.mktemp("video") / "clip.mp4"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 25.0, (WIDTH, HEIGHT))
    for i in range(N_FRAMES):
        # Each frame a flat grey level 20*i: decodable as its index despite compression.
        writer.write(np.full((HEIGHT, WIDTH, 3), 20 * i, np.uint8))
    writer.release()
    return path


def _level(frame: np.ndarray) -> int:
    return round(float(frame.mean()) / 20)


def test_probe_describes_the_clip(clip):
    info = probe(clip, "output")
    assert info == VideoInfo(str(clip), WIDTH, HEIGHT, N_FRAMES, 25.0)


def test_reader_yields_every_frame_in_order(clip):
    with VideoReader(clip) as reader:
        frames = list(reader)
    assert len(frames) == N_FRAMES
    assert all(f.shape == (HEIGHT, WIDTH, 3) and f.dtype == np.uint8 for f in frames)
    assert [_level(f) for f in frames] == list(range(N_FRAMES))


def test_skip_advances_without_returning_a_frame(clip):
    with VideoReader(clip) as reader:
        assert reader.skip() and reader.skip()
        assert _level(reader.read()) == 2
        assert reader.frames_read == 3


@pytest.mark.parametrize("stride", [1, 2, 3, 5])
def test_prefetch_reads_needed_frames_and_skips_the_rest(clip, stride):
    with VideoReader(clip) as reader:
        items = list(prefetch_frames(reader, lambda i: frame_needed(i, stride), depth=2))
    assert len(items) == N_FRAMES
    for index, item in enumerate(items):
        if frame_needed(index, stride):
            assert _level(item) == index
        else:
            assert item is None


def test_prefetch_stops_its_thread_when_the_consumer_stops(clip):
    import threading

    with VideoReader(clip) as reader:
        stream = prefetch_frames(reader, depth=1)
        next(stream)
        stream.close()
    assert not any(t.name == "ffaccel-decode-input" for t in threading.enumerate())


def test_prefetch_reraises_errors_from_the_thread(clip):
    with VideoReader(clip) as reader:
        def boom(index: int) -> bool:
            if index == 3:
                raise RuntimeError("predicate failed")
            return True

        with pytest.raises(RuntimeError, match="predicate failed"):
            list(prefetch_frames(reader, boom))
        with pytest.raises(ValueError, match="depth"):
            next(prefetch_frames(reader, depth=0))


def test_missing_unreadable_and_directory_inputs(tmp_path):
    with pytest.raises(VideoError, match="^reference video not found"):
        probe(tmp_path / "missing.mp4", "reference")
    with pytest.raises(VideoError, match="is a directory"):
        VideoReader(tmp_path)
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"\x00" * 1000)
    with pytest.raises(VideoError, match="cannot be opened|no decodable frame"):
        probe(junk, "output")


def test_geometry_checks():
    a = VideoInfo("a", 64, 48, 10, 30.0)
    check_same_geometry(a, VideoInfo("b", 64, 48, 10, 25.0))
    check_same_geometry(a, VideoInfo("b", 64, 48, 0, 30.0))  # unknown count: checked while streaming
    with pytest.raises(VideoError, match="size mismatch: output is 64x48 but reference is 64x40"):
        check_same_geometry(a, VideoInfo("b", 64, 40, 10, 30.0))
    with pytest.raises(VideoError, match="frame count mismatch: output has 10 frames but reference has 11"):
        check_same_geometry(a, VideoInfo("b", 64, 48, 11, 30.0))


def test_missing_opencv_names_the_extra(monkeypatch, clip):
    real_import = builtins.__import__

    def no_cv2(name, *args, **kwargs):
        if name == "cv2":
            raise ImportError("No module named 'cv2'")
        return real_import(name, *args, **kwargs)

    monkeypatch.delitem(sys.modules, "cv2")
    monkeypatch.setattr(builtins, "__import__", no_cv2)
    with pytest.raises(ModuleNotFoundError, match=r"pip install \"ffaccel\[opencv\]\""):
        probe(clip)
