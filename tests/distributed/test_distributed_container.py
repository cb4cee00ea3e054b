"""ffaccel.distributed.container: the .ffr format (numpy only, no Ray)."""

from __future__ import annotations

import struct
import zlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ffaccel.distributed.container import (
    CorruptVideoError,
    FfrReader,
    FfrWriter,
    MissingVideoError,
    VideoReadError,
    join_ffr,
    read_ffr,
    write_ffr,
)


def _frames(n: int, h: int = 6, w: int = 5, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, h, w, 3), dtype=np.uint8)


@pytest.mark.parametrize("codec", ["raw", "zlib"])
def test_round_trip_and_random_access(tmp_path, codec):
    frames = _frames(7)
    frames.setflags(write=False)  # read-only input is fine: the writer only reads
    path = write_ffr(tmp_path / "a.ffr", frames, fps=25.0, codec=codec, meta={"k": [1.5, 2.0]})
    r = FfrReader(path)
    assert (r.frames, r.width, r.height, r.fps, r.codec, r.meta) == (7, 5, 6, 25.0, codec, {"k": [1.5, 2.0]})
    np.testing.assert_array_equal(read_ffr(path), frames)
    np.testing.assert_array_equal(r.read(4), frames[4])
    np.testing.assert_array_equal(r.read_range(2, 5), frames[2:5])
    assert list(r.keyframes) == list(range(7))


@pytest.mark.parametrize("codec", ["raw", "zlib"])
def test_strided_and_fortran_frames_write_their_values(tmp_path, codec):
    """Frames that are views (negative strides, Fortran order) are written as their C-order copies."""
    frames = _frames(3, h=9, w=7, seed=3)
    views = [frames[0][:, ::-1], np.asfortranarray(frames[1]), frames[2][::1]]
    write_ffr(tmp_path / "v.ffr", views, codec=codec)
    write_ffr(tmp_path / "c.ffr", [np.ascontiguousarray(v) for v in views], codec=codec)
    assert (tmp_path / "v.ffr").read_bytes() == (tmp_path / "c.ffr").read_bytes()
    np.testing.assert_array_equal(read_ffr(tmp_path / "v.ffr"), np.stack(views))


@settings(max_examples=25, deadline=None)
@given(sizes=st.lists(st.integers(1, 4), min_size=1, max_size=4), codec=st.sampled_from(["raw", "zlib"]))
def test_join_equals_one_writer(tmp_path_factory, sizes, codec):
    """Joining segment files gives the very bytes one writer of all frames gives."""
    d = tmp_path_factory.mktemp("join")
    frames = _frames(sum(sizes), seed=len(sizes))
    parts, at = [], 0
    for k, n in enumerate(sizes):
        parts.append(write_ffr(d / f"p{k}.ffr", frames[at:at + n], codec=codec))
        at += n
    join_ffr(parts, d / "joined.ffr")
    write_ffr(d / "whole.ffr", frames, codec=codec)
    assert (d / "joined.ffr").read_bytes() == (d / "whole.ffr").read_bytes()


def test_missing_and_corrupt_files_are_named(tmp_path):
    with pytest.raises(MissingVideoError, match="nope.ffr"):
        FfrReader(tmp_path / "nope.ffr")
    (tmp_path / "junk.ffr").write_bytes(b"not a video at all, just bytes")
    with pytest.raises(CorruptVideoError, match="bad magic"):
        FfrReader(tmp_path / "junk.ffr")
    good = write_ffr(tmp_path / "good.ffr", _frames(3)).read_bytes()
    (tmp_path / "cut.ffr").write_bytes(good[:-30])
    with pytest.raises(CorruptVideoError, match="truncated"):
        FfrReader(tmp_path / "cut.ffr")
    # a flipped byte inside frame 1's payload: the index is fine, the checksum is not
    r = FfrReader(tmp_path / "good.ffr")
    at = int(r._offsets[1]) + 4 + 3
    bad = bytearray(good)
    bad[at] ^= 0xFF
    (tmp_path / "flip.ffr").write_bytes(bytes(bad))
    r2 = FfrReader(tmp_path / "flip.ffr")
    r2.read(0)
    with pytest.raises(CorruptVideoError, match="frame 1: checksum"):
        r2.read(1)
    with pytest.raises(CorruptVideoError, match="frame 1: checksum"):  # the batch read (frames read in place)
        r2.read_range(0, 3)
    # a record whose length field is wrong: the batch read names the frame too
    bad = bytearray(good)
    bad[int(r._offsets[2])] ^= 0x01
    (tmp_path / "len.ffr").write_bytes(bytes(bad))
    with pytest.raises(CorruptVideoError, match="frame 2"):
        FfrReader(tmp_path / "len.ffr").read_range(1, 3)
    assert issubclass(CorruptVideoError, VideoReadError) and issubclass(MissingVideoError, OSError)


def test_write_is_atomic(tmp_path):
    """Until close() the final name does not exist; an aborted write leaves nothing."""
    path = tmp_path / "out.ffr"
    w = FfrWriter(path, 5, 6)
    w.write(_frames(1)[0])
    assert not path.exists() and len(list(tmp_path.iterdir())) == 1
    w.close()
    assert path.exists() and [p.name for p in tmp_path.iterdir()] == ["out.ffr"]
    with pytest.raises(RuntimeError):
        with FfrWriter(tmp_path / "b.ffr", 5, 6) as w2:
            w2.write(_frames(1)[0])
            raise RuntimeError("worker died")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.ffr"]


def test_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="codec"):
        FfrWriter(tmp_path / "a.ffr", 4, 4, codec="h264")
    with pytest.raises(ValueError, match="level"):
        FfrWriter(tmp_path / "a.ffr", 4, 4, level=12)
    with pytest.raises(ValueError, match="width, height"):
        FfrWriter(tmp_path / "a.ffr", 0, 4)
    with FfrWriter(tmp_path / "a.ffr", 5, 6) as w:
        with pytest.raises(ValueError, match="frame: expected"):
            w.write(np.zeros((6, 5, 3), np.float32))
        w.write(_frames(1)[0])
    with pytest.raises(IndexError, match="index"):
        FfrReader(tmp_path / "a.ffr").read(1)
    with pytest.raises(ValueError, match="parts"):
        join_ffr([], tmp_path / "j.ffr")
    write_ffr(tmp_path / "b.ffr", _frames(1, h=4))
    with pytest.raises(ValueError, match="parts"):
        join_ffr([tmp_path / "a.ffr", tmp_path / "b.ffr"], tmp_path / "j.ffr")


def test_layout_is_as_documented(tmp_path):
    """Independent parse of the bytes with struct/zlib only, as the module docstring describes."""
    frames = _frames(2)
    data = write_ffr(tmp_path / "a.ffr", frames, codec="zlib").read_bytes()
    assert data[:8] == b"FFRV0001" and data[-8:] == b"FFRINDEX"
    (hlen,) = struct.unpack("<I", data[8:12])
    count, index_at = struct.unpack("<QQ", data[-24:-8])
    assert count == 2
    offsets = struct.unpack("<2Q", data[index_at:index_at + 16])
    assert offsets[0] == 12 + hlen
    for k, off in enumerate(offsets):
        (n,) = struct.unpack("<I", data[off:off + 4])
        payload = data[off + 4:off + 4 + n]
        assert struct.unpack("<I", data[off + 4 + n:off + 8 + n])[0] == zlib.crc32(payload)
        assert zlib.decompress(payload) == frames[k].tobytes()


def test_join_without_copy_file_range(tmp_path, monkeypatch):
    """The Python copy fallback gives the same bytes as the in-kernel copy."""
    import os

    frames = _frames(5)
    parts = [write_ffr(tmp_path / "p0.ffr", frames[:2]), write_ffr(tmp_path / "p1.ffr", frames[2:])]
    join_ffr(parts, tmp_path / "fast.ffr")
    monkeypatch.delattr(os, "copy_file_range", raising=False)
    join_ffr(parts, tmp_path / "slow.ffr")
    assert (tmp_path / "fast.ffr").read_bytes() == (tmp_path / "slow.ffr").read_bytes()
    np.testing.assert_array_equal(read_ffr(tmp_path / "slow.ffr"), frames)


def test_raw_layout_in_place_writes_equal_one_writer(tmp_path):
    """Frames written in place, out of order and twice (a retry), give FfrWriter's raw file."""
    from ffaccel.distributed.container import RawLayout

    frames = _frames(7)
    write_ffr(tmp_path / "one.ffr", frames, fps=25.0, codec="raw")
    lay = RawLayout(tmp_path / "many.ffr", 5, 6, 25.0, 7, token="t1")
    lay.create()
    lay.write_frames(4, frames[4:])
    lay.write_frames(0, frames[:2])
    lay.write_frames(2, np.zeros_like(frames[2:4]))  # a worker died after writing garbage...
    lay.write_frames(2, frames[2:4])  # ...and its retry wrote the segment again
    assert not (tmp_path / "many.ffr").exists()
    lay.finish()
    assert (tmp_path / "many.ffr").read_bytes() == (tmp_path / "one.ffr").read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["many.ffr", "one.ffr"]


def test_raw_layout_refuses_a_missing_frame(tmp_path):
    from ffaccel.distributed.container import RawLayout

    frames = _frames(5)
    lay = RawLayout(tmp_path / "o.ffr", 5, 6, 30.0, 5, token="t")
    lay.create()
    lay.write_frames(0, frames[:2])
    lay.write_frames(3, frames[3:])  # frame 2 never written: a hole of zeros
    with pytest.raises(RuntimeError, match="frame 2 was never written"):
        lay.finish()
    lay.write_frames(0, frames[:1])
    lay2 = RawLayout(tmp_path / "p.ffr", 5, 6, 30.0, 5, token="u")
    lay2.create()
    lay2.write_frames(0, frames[:3])  # the last frames never written: the file is short
    with pytest.raises(RuntimeError, match="frames missing"):
        lay2.finish()
    with pytest.raises(ValueError, match="frames: expected"):
        lay2.write_frames(4, frames[:2])  # past the end
    lay.abort()
    lay2.abort()
    assert not (tmp_path / "o.ffr").exists() and list(tmp_path.iterdir()) == []
