"""``.ffr``: a lossless frame container that numpy and the standard library can read and write.

Every frame is stored on its own (intra only), so any frame is a keyframe: a video can
be cut into segments anywhere, each segment read without its neighbours, and segment
files joined by copying their frame records, with no re-encoding.

Layout (all integers little-endian)::

    b"FFRV0001"                      8 bytes, magic
    u32 header length, header        JSON: width, height, channels, fps, codec, meta
    frame records, in order          u32 payload length, payload, u32 crc32(payload)
    index                            u64 offset of each record
    u64 frame count, u64 index offset, b"FFRINDEX"   footer, 24 bytes

``codec`` is ``"raw"`` (the (H, W, C) uint8 bytes) or ``"zlib"`` (those bytes through
``zlib.compress`` at ``level``; deterministic for a given zlib build). A file without
its footer (a write that never finished) or with a record whose checksum does not match
is refused with :class:`CorruptVideoError`.

Writers write to ``<name>.tmp-<pid>`` and rename on :meth:`FfrWriter.close`, so a file
carrying the final name is always complete.
"""

from __future__ import annotations

import json
import os
import struct
import zlib
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "RawLayout",
    "VideoReadError",
    "MissingVideoError",
    "CorruptVideoError",
    "FfrReader",
    "FfrWriter",
    "write_ffr",
    "read_ffr",
    "join_ffr",
]

MAGIC = b"FFRV0001"
FOOTER_MAGIC = b"FFRINDEX"
CODECS = ("raw", "zlib")


class VideoReadError(OSError):
    """An input video cannot be read; :attr:`path` names it."""

    def __init__(self, path: str | os.PathLike[str], message: str) -> None:
        super().__init__(f"{os.fspath(path)}: {message}")
        self.path = os.fspath(path)

    def __reduce__(self) -> tuple[Any, ...]:  # picklable across Ray workers
        return (type(self), (self.path, str(self).split(": ", 1)[-1]))


class MissingVideoError(VideoReadError):
    """The input video does not exist."""


class CorruptVideoError(VideoReadError):
    """The input video exists but is not a complete, valid video (bad magic, truncated, bad checksum)."""


def _tmp_name(path: Path) -> Path:
    return path.with_name(f"{path.name}.tmp-{os.getpid()}")


def _write_record(f: Any, payload: bytes | memoryview) -> None:
    """One record (u32 length, payload, u32 crc32) at ``f``'s position, the payload written from its own buffer."""
    n = payload.nbytes if isinstance(payload, memoryview) else len(payload)
    f.write(struct.pack("<I", n))
    f.write(payload)
    f.write(struct.pack("<I", zlib.crc32(payload)))


def _head(width: int, height: int, fps: float, codec: str, meta: dict[str, Any] | None) -> bytes:
    header = json.dumps({"width": int(width), "height": int(height), "channels": 3, "fps": float(fps),
                         "codec": codec, "meta": meta or {}}, sort_keys=True).encode()
    return MAGIC + struct.pack("<I", len(header)) + header


class RawLayout:
    """Where each frame of a ``"raw"`` ``.ffr`` file lies: every record has the same size.

    Lets several processes write their frames of one file in place, each at its own offsets
    (:meth:`write_frames`), in any order and any number of times (a retry rewrites the same
    bytes); :meth:`finish` then adds the index and footer and renames. The result is byte for
    byte what one :class:`FfrWriter` of all the frames, in order, writes with ``codec="raw"``.

    Args:
        path: the final file name; the frames go to :attr:`tmp` (``<name>.tmp-<token>``).
        width, height, fps, frames: the video.
        token: part of the temporary name, the same in every process that writes the file.
    """

    def __init__(self, path: str | os.PathLike[str], width: int, height: int, fps: float, frames: int,
                 token: str) -> None:
        self.path = Path(path)
        self.tmp = self.path.with_name(f"{self.path.name}.tmp-{token}")
        self.head = _head(width, height, fps, "raw", None)
        self.shape = (int(height), int(width), 3)
        self.record = 8 + int(width) * int(height) * 3
        self.frames = int(frames)

    def offset(self, index: int) -> int:
        """Byte offset of frame ``index``'s record."""
        return len(self.head) + index * self.record

    def create(self) -> None:
        """Write the header into a fresh temporary file (the frames are written later, in place)."""
        with open(self.tmp, "wb") as f:
            f.write(self.head)

    def write_frames(self, start: int, frames: np.ndarray) -> None:
        """Write (n, H, W, 3) uint8 ``frames`` as frames ``start`` .. ``start + n - 1``, in place."""
        a = np.asarray(frames)
        if a.dtype != np.uint8 or a.shape[1:] != self.shape or not 0 <= start <= self.frames - len(a):
            raise ValueError(f"frames: expected (n, {self.shape}) uint8 within {self.frames} frames, got {a.shape} "
                             f"{a.dtype} at {start}")
        with open(self.tmp, "r+b") as f:
            f.seek(self.offset(start))
            for frame in a:
                _write_record(f, memoryview(np.ascontiguousarray(frame)).cast("B"))

    def finish(self) -> Path:
        """Check every record's length field, write the index and footer, fsync and rename."""
        end = self.offset(self.frames)
        with open(self.tmp, "r+b") as f:
            if os.fstat(f.fileno()).st_size < end:
                raise RuntimeError(f"{self.tmp.name}: frames missing (file shorter than {self.frames} records)")
            for i in range(self.frames):
                f.seek(self.offset(i))
                if f.read(4) != struct.pack("<I", self.record - 8):
                    raise RuntimeError(f"{self.tmp.name}: frame {i} was never written")
            f.seek(end)
            f.truncate()
            offsets = np.arange(self.frames, dtype="<u8") * self.record + len(self.head)
            f.write(offsets.tobytes() + struct.pack("<QQ", self.frames, end) + FOOTER_MAGIC)
            f.flush()
            os.fsync(f.fileno())
        os.replace(self.tmp, self.path)
        return self.path

    def abort(self) -> None:
        self.tmp.unlink(missing_ok=True)


class FfrWriter:
    """Write frames one by one into an ``.ffr`` file, atomically.

    Args:
        path: the final file name; the data goes to a temporary name beside it until :meth:`close`.
        width, height: frame size in pixels.
        fps: frames per second (stored, not used).
        codec: ``"raw"`` or ``"zlib"``.
        level: zlib level, 0..9 (``"zlib"`` only).
        meta: JSON-serialisable dict stored in the header.
        sync: ``fsync`` the data before the rename (default); segment files that are joined
            and deleted right after skip it.

    Example:
        >>> import numpy as np, tempfile, os
        >>> d = tempfile.mkdtemp()
        >>> with FfrWriter(os.path.join(d, "a.ffr"), 4, 2, fps=25) as w:
        ...     w.write(np.zeros((2, 4, 3), np.uint8))
        >>> FfrReader(os.path.join(d, "a.ffr")).frames
        1
    """

    def __init__(self, path: str | os.PathLike[str], width: int, height: int, fps: float = 30.0,
                 codec: str = "zlib", level: int = 1, meta: dict[str, Any] | None = None, sync: bool = True) -> None:
        if codec not in CODECS:
            raise ValueError(f"codec: expected one of {CODECS}, got {codec!r}")
        if not (0 <= int(level) <= 9):
            raise ValueError(f"level: expected 0..9, got {level!r}")
        if int(width) < 1 or int(height) < 1:
            raise ValueError(f"width, height: expected >= 1, got {width}x{height}")
        self.path = Path(path)
        self.shape = (int(height), int(width), 3)
        self.codec, self.level, self.sync = codec, int(level), bool(sync)
        self._tmp = _tmp_name(self.path)
        self._f = open(self._tmp, "wb")  # noqa: SIM115 - closed in close()/abort()
        self._f.write(_head(width, height, fps, codec, meta))
        self._offsets: list[int] = []

    def write(self, frame: np.ndarray) -> None:
        """Append one (height, width, 3) uint8 frame."""
        a = np.asarray(frame)
        if a.dtype != np.uint8 or a.shape != self.shape:
            raise ValueError(f"frame: expected {self.shape} uint8, got {a.shape} {a.dtype}")
        raw = memoryview(np.ascontiguousarray(a)).cast("B")  # the frame's own bytes, not a copy
        self.write_record(zlib.compress(raw, self.level) if self.codec == "zlib" else raw)

    def write_record(self, payload: bytes | memoryview) -> None:
        """Append one frame already encoded with this file's codec (used to join segments)."""
        self._offsets.append(self._f.tell())
        _write_record(self._f, payload)

    def close(self) -> Path:
        """Write the index and footer, flush, and rename to the final name; returns it."""
        index_at = self._f.tell()
        self._f.write(np.asarray(self._offsets, "<u8").tobytes())
        self._f.write(struct.pack("<QQ", len(self._offsets), index_at) + FOOTER_MAGIC)
        self._f.flush()
        if self.sync:
            os.fsync(self._f.fileno())
        self._f.close()
        os.replace(self._tmp, self.path)
        return self.path

    def abort(self) -> None:
        """Drop the temporary file; the final name is left as it was."""
        self._f.close()
        self._tmp.unlink(missing_ok=True)

    def __enter__(self) -> FfrWriter:
        return self

    def __exit__(self, exc_type: Any, *_: Any) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


class FfrReader:
    """Random access to the frames of an ``.ffr`` file.

    Attributes:
        path, width, height, fps, codec, meta, frames (count).

    Raises:
        MissingVideoError: no such file.
        CorruptVideoError: not an ``.ffr`` file, truncated, or inconsistent index.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise MissingVideoError(self.path, "no such video file")
        size = self.path.stat().st_size
        with open(self.path, "rb") as f:
            head = f.read(12)
            if len(head) < 12 or head[:8] != MAGIC:
                raise CorruptVideoError(self.path, "not an .ffr video (bad magic)")
            (hlen,) = struct.unpack("<I", head[8:])
            try:
                header = json.loads(f.read(hlen))
                self.width, self.height = int(header["width"]), int(header["height"])
                self.fps, self.codec = float(header["fps"]), str(header["codec"])
                self.meta: dict[str, Any] = dict(header.get("meta", {}))
            except (ValueError, KeyError, TypeError) as exc:
                raise CorruptVideoError(self.path, f"unreadable header ({exc})") from None
            if self.codec not in CODECS or self.width < 1 or self.height < 1:
                raise CorruptVideoError(self.path, "unreadable header (codec or size)")
            if size < 12 + hlen + 24:
                raise CorruptVideoError(self.path, "truncated (no index)")
            f.seek(size - 24)
            count, index_at = struct.unpack("<QQ", f.read(16))
            if f.read(8) != FOOTER_MAGIC or index_at + 8 * count != size - 24:
                raise CorruptVideoError(self.path, "truncated or damaged (no valid index)")
            f.seek(index_at)
            self._offsets = np.frombuffer(f.read(8 * count), "<u8").astype(np.int64)
        if count and (self._offsets[0] != 12 + hlen or np.any(np.diff(self._offsets) <= 8)
                      or self._offsets[-1] >= index_at):
            raise CorruptVideoError(self.path, "damaged index")
        self.frames = int(count)
        self._index_at = int(index_at)
        self._frame_bytes = self.width * self.height * 3

    @property
    def keyframes(self) -> np.ndarray:
        """Frame indices where a segment may start: every frame (the format is intra only)."""
        return np.arange(self.frames)

    def _record_span(self, index: int) -> tuple[int, int]:
        if not 0 <= index < self.frames:
            raise IndexError(f"index: expected 0..{self.frames - 1}, got {index}")
        start = int(self._offsets[index])
        return start, int(self._offsets[index + 1]) if index + 1 < self.frames else self._index_at

    def read_record(self, index: int, f: Any = None) -> bytes:
        """The encoded payload of frame ``index`` (checksum verified); ``f``: this file, open ``"rb"``, or None."""
        start, end = self._record_span(index)
        if f is None:
            with open(self.path, "rb") as g:
                return self.read_record(index, g)
        f.seek(start)
        blob = f.read(end - start)
        (n,) = struct.unpack("<I", blob[:4])
        payload, crc = blob[4:4 + n], blob[4 + n:8 + n]
        if len(crc) != 4 or 8 + n != len(blob) or zlib.crc32(payload) != struct.unpack("<I", crc)[0]:
            raise CorruptVideoError(self.path, f"frame {index}: checksum mismatch")
        return payload

    def _read_raw_into(self, index: int, f: Any, out: np.ndarray) -> bool:
        """A raw record straight into ``out`` (one frame, C-contiguous): no intermediate bytes objects.

        Returns False (``out`` undefined) where the record is not a plain raw frame with a
        matching checksum; the caller then reads it the general way, which names the fault.
        """
        start, end = self._record_span(index)
        if end - start != self._frame_bytes + 8:
            return False
        f.seek(start)
        view = memoryview(out).cast("B")
        head = f.read(4)
        if len(head) != 4 or struct.unpack("<I", head)[0] != self._frame_bytes or f.readinto(view) != len(view):
            return False
        crc = f.read(4)
        return len(crc) == 4 and zlib.crc32(view) == struct.unpack("<I", crc)[0]

    def decode(self, payload: bytes, index: int = -1) -> np.ndarray:
        """(height, width, 3) uint8 frame from a payload of this file's codec."""
        try:
            raw = zlib.decompress(payload) if self.codec == "zlib" else payload
        except zlib.error as exc:
            raise CorruptVideoError(self.path, f"frame {index}: {exc}") from None
        if len(raw) != self._frame_bytes:
            raise CorruptVideoError(self.path, f"frame {index}: {len(raw)} bytes, expected {self._frame_bytes}")
        return np.frombuffer(raw, np.uint8).reshape(self.height, self.width, 3).copy()

    def read(self, index: int) -> np.ndarray:
        """Frame ``index`` as a new (height, width, 3) uint8 array."""
        return self.decode(self.read_record(index), index)

    def iter_range(self, start: int, stop: int, batch: int) -> Any:
        """Frames ``start`` .. ``stop - 1`` in (<= batch, H, W, 3) uint8 arrays."""
        for b0 in range(start, stop, batch):
            yield self.read_range(b0, min(b0 + batch, stop))

    def read_range(self, start: int, stop: int) -> np.ndarray:
        """Frames ``start`` .. ``stop - 1`` as a new (stop - start, height, width, 3) uint8 array.

        The file is opened once; raw frames are read straight into the array and their
        checksums computed there (no copy of a frame in between).
        """
        if not 0 <= start <= stop <= self.frames:
            raise IndexError(f"start, stop: expected 0 <= start <= stop <= {self.frames}, got {start}, {stop}")
        out = np.empty((stop - start, self.height, self.width, 3), np.uint8)
        with open(self.path, "rb") as f:
            for i in range(start, stop):
                if self.codec == "raw" and self._read_raw_into(i, f, out[i - start]):
                    continue
                out[i - start] = self.decode(self.read_record(i, f), i)
        return out


def write_ffr(path: str | os.PathLike[str], frames: Iterable[np.ndarray], fps: float = 30.0, codec: str = "zlib",
              level: int = 1, meta: dict[str, Any] | None = None) -> Path:
    """Write ``frames`` ((H, W, 3) uint8 each, at least one) to ``path`` atomically; returns the path."""
    it = iter(frames)
    first = np.asarray(next(it))
    if first.ndim != 3 or first.shape[2] != 3:
        raise ValueError(f"frames: expected (H, W, 3) uint8 frames, got {first.shape}")
    with FfrWriter(path, first.shape[1], first.shape[0], fps, codec, level, meta) as w:
        w.write(first)
        for frame in it:
            w.write(frame)
    return Path(path)


def read_ffr(path: str | os.PathLike[str]) -> np.ndarray:
    """All frames of ``path`` as one (T, H, W, 3) uint8 array."""
    r = FfrReader(path)
    return r.read_range(0, r.frames)


def join_ffr(parts: Sequence[str | os.PathLike[str]], path: str | os.PathLike[str],
             meta: dict[str, Any] | None = None) -> Path:
    """Concatenate ``.ffr`` segment files into ``path`` (atomically) by copying their records.

    Every part must have the same size, fps and codec. Each part's records (contiguous
    between its header and its index) are copied as one block (``os.copy_file_range``
    where the system has it) and the index is rebuilt, so the result is byte for byte
    what one writer of all the frames would have written; the records keep their
    checksums, which every read verifies.
    """
    readers = [FfrReader(p) for p in parts]
    if not readers:
        raise ValueError("parts: expected at least one segment file, got none")
    first = readers[0]
    for r in readers[1:]:
        if (r.width, r.height, r.fps, r.codec) != (first.width, first.height, first.fps, first.codec):
            raise ValueError(f"parts: {r.path} differs from {first.path} in size, fps or codec")
    with FfrWriter(path, first.width, first.height, first.fps, first.codec, meta=meta) as w:
        out = w._f
        for r in readers:
            if not r.frames:
                continue
            start = int(r._offsets[0])
            at = out.tell()
            w._offsets.extend((r._offsets - start + at).tolist())
            _copy_range(r.path, start, r._index_at - start, out)
    return Path(path)


def _copy_range(src: Path, offset: int, length: int, out: Any) -> None:
    """Append ``length`` bytes of ``src`` from ``offset`` to the open file ``out``."""
    out.flush()
    with open(src, "rb") as f:
        done = 0
        if hasattr(os, "copy_file_range"):
            try:
                while done < length:
                    n = os.copy_file_range(f.fileno(), out.fileno(), length - done, offset + done)
                    if n == 0:
                        break
                    done += n
            except OSError:
                pass  # e.g. across file systems on old kernels: copy through Python below
        out.seek(0, os.SEEK_END)
        f.seek(offset + done)
        while done < length:
            chunk = f.read(min(1 << 24, length - done))
            if not chunk:
                raise CorruptVideoError(src, "shorter than its index says")
            out.write(chunk)
            done += len(chunk)
