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


def _x264(path, frames, gop=8):
    import imageio_ffmpeg

    w = imageio_ffmpeg.write_frames(str(path), (frames.shape[2], frames.shape[1]), pix_fmt_in="bgr24", fps=30,
                                    codec="libx264", quality=None, macro_block_size=1,
                                    output_params=["-g", str(gop), "-crf", "18"])
    w.send(None)
    for f in frames:
        w.send(np.ascontiguousarray(f))
    w.close()
    return path


def test_ffmpeg_reader_segments_equal_the_sequential_decode(tmp_path):
    """An x264 stream (keyframe every 8 frames, B-frames): each keyframe-started range is the sequential decode's."""
    from ffaccel.distributed.video import FfmpegReader

    y, x = np.mgrid[0:72, 0:96]
    frames = np.stack([np.stack([128 + 100 * np.sin((x + 3 * t) / 9.0 + c) * np.cos(y / 13.0) for c in range(3)],
                                axis=-1) for t in range(30)]).astype(np.uint8)  # smooth, moving: x264 keeps it close
    mp4 = _x264(tmp_path / "a.mp4", frames)
    r = FfmpegReader(mp4)
    assert (r.frames, r.width, r.height, r.fps) == (30, 96, 72, 30.0)
    assert r.keyframes.tolist() == [0, 8, 16, 24]
    whole = r.read_range(0, 30)
    assert np.abs(whole.astype(int) - frames).mean() < 8  # lossy, but these frames
    for start in (8, 16, 24):
        stop = min(start + 8, 30)
        np.testing.assert_array_equal(r.read_range(start, stop), whole[start:stop])
    batches = list(r.iter_range(8, 19, 4))
    assert [len(b) for b in batches] == [4, 4, 3]
    np.testing.assert_array_equal(np.concatenate(batches), whole[8:19])
    with pytest.raises(ValueError, match="start"):
        r.read_range(5, 9)
    with pytest.raises(IndexError, match="start, stop"):
        r.read_range(0, 31)


def test_ffmpeg_reader_bad_files(tmp_path):
    from ffaccel.distributed.video import FfmpegReader

    with pytest.raises(MissingVideoError):
        FfmpegReader(tmp_path / "none.mp4")
    mp4 = _x264(tmp_path / "a.mp4", _frames(10, 36, 48))
    data = mp4.read_bytes()
    (tmp_path / "cut.mp4").write_bytes(data[: len(data) // 2])
    with pytest.raises(CorruptVideoError, match="cut.mp4"):
        FfmpegReader(tmp_path / "cut.mp4")
