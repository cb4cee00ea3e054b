"""ffaccel.distributed.video: mp4/mkv in and out of .ffr with imageio-ffmpeg's ffmpeg (skipped without it)."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("imageio_ffmpeg", reason="imageio-ffmpeg is not installed (pip install \"ffaccel[ray]\")")

from ffaccel.distributed import CorruptVideoError, MissingVideoError, read_ffr, write_ffr  # noqa: E402
from ffaccel.distributed.video import export_video, import_video  # noqa: E402


def _frames(n=5, h=36, w=48):
    return np.random.default_rng(2).integers(0, 256, (n, h, w, 3), dtype=np.uint8)


def test_ffv1_round_trip_is_lossless(tmp_path):
    frames = _frames()
    src = write_ffr(tmp_path / "a.ffr", frames, fps=25.0)
    mkv = export_video(src, tmp_path / "a.mkv", codec="ffv1")
    back = import_video(mkv, tmp_path / "b.ffr")
    np.testing.assert_array_equal(read_ffr(back), frames)
    assert [p.name for p in sorted(tmp_path.iterdir())] == ["a.ffr", "a.mkv", "b.ffr"]  # no temporary left


def test_x264_export_is_close(tmp_path):
    frames = np.repeat(np.linspace(0, 255, 48, dtype=np.uint8)[None, None, :, None], 36, axis=1)
    frames = np.repeat(np.repeat(frames, 3, axis=3), 4, axis=0)
    mp4 = export_video(write_ffr(tmp_path / "a.ffr", frames), tmp_path / "a.mp4", codec="libx264")
    back = read_ffr(import_video(mp4, tmp_path / "b.ffr"))
    assert back.shape == frames.shape and np.abs(back.astype(int) - frames).mean() < 4


def test_bad_inputs(tmp_path):
    with pytest.raises(MissingVideoError, match="nope.mp4"):
        import_video(tmp_path / "nope.mp4", tmp_path / "o.ffr")
    (tmp_path / "junk.mp4").write_bytes(b"\x00" * 1000)
    with pytest.raises(CorruptVideoError, match="junk.mp4"):
        import_video(tmp_path / "junk.mp4", tmp_path / "o.ffr")
    assert not (tmp_path / "o.ffr").exists()
    with pytest.raises(ValueError, match="codec"):
        export_video(tmp_path / "x.ffr", tmp_path / "x.mkv", codec="vp9")
