"""Common video files in and out of ``.ffr``, with the ffmpeg binary of the ``imageio-ffmpeg`` wheel.

No system package is needed: ``pip install imageio-ffmpeg`` (part of ``ffaccel[ray]``)
brings a static ffmpeg.

- :func:`import_video`: decode any video ffmpeg reads (mp4, mkv, mov, ...) into an
  ``.ffr`` file, frame by frame, BGR24. Constant frame rate is assumed; ffmpeg's decoder
  gives the frames (the same bytes on every run of the same ffmpeg build).
- :class:`FfmpegReader`: read a video file directly (what :func:`ffaccel.distributed.open_video`
  uses for any name not ending in ``.ffr``): its keyframes (ffmpeg decoding the keyframes
  only), and any range of frames starting at a keyframe, decoded from that keyframe
  (``-ss`` before ``-i`` without accurate seek, to half a frame after the keyframe). This
  gives the frames of a sequential decode when the stream has a constant frame rate and
  closed GOPs (every keyframe an IDR frame: x264's and most encoders' default; the tests
  check an x264 stream against its sequential decode). Open-GOP streams (x264
  ``--open-gop``, HEVC CRA) must be imported to ``.ffr`` first.
- :func:`export_video`: an ``.ffr`` file into a video: ``"ffv1"`` in ``.mkv`` (lossless:
  :func:`import_video` of it gives the frames back byte for byte), or ``"libx264"``
  (lossy; CRF ``crf``) for viewing.

Both write atomically (temporary name, then rename).
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from ffaccel.distributed.container import CorruptVideoError, FfrReader, FfrWriter, MissingVideoError

__all__ = ["FfmpegReader", "import_video", "export_video", "ffmpeg_exe"]


def _imageio_ffmpeg() -> Any:
    try:
        import imageio_ffmpeg
    except ImportError as exc:
        raise ImportError('reading and writing mp4/mkv needs imageio-ffmpeg: pip install "ffaccel[ray]" '
                          "(or pip install imageio-ffmpeg)") from exc
    return imageio_ffmpeg


def ffmpeg_exe() -> str:
    """Path of the ffmpeg binary shipped by the ``imageio-ffmpeg`` wheel."""
    return str(_imageio_ffmpeg().get_ffmpeg_exe())


def import_video(src: str | os.PathLike[str], dst: str | os.PathLike[str], codec: str = "zlib") -> Path:
    """Decode ``src`` (any format ffmpeg reads) into the ``.ffr`` file ``dst``; returns ``dst``.

    Raises:
        MissingVideoError: ``src`` does not exist.
        CorruptVideoError: ffmpeg cannot decode it, or it has no frames.
    """
    iio = _imageio_ffmpeg()
    src = Path(src)
    if not src.is_file():
        raise MissingVideoError(src, "no such video file")
    try:
        gen = iio.read_frames(os.fspath(src), pix_fmt="bgr24")
        meta = next(gen)
        width, height = (int(v) for v in meta["size"])
        writer = FfrWriter(dst, width, height, float(meta.get("fps") or 30.0), codec=codec)
        try:
            for raw in gen:
                writer.write(np.frombuffer(raw, np.uint8).reshape(height, width, 3))
        except BaseException:
            writer.abort()
            raise
    except (OSError, RuntimeError, StopIteration, KeyError, ValueError) as exc:
        if isinstance(exc, CorruptVideoError):
            raise
        raise CorruptVideoError(src, f"ffmpeg cannot decode it ({type(exc).__name__}: {exc})") from None
    if not writer._offsets:
        writer.abort()
        raise CorruptVideoError(src, "no video frames")
    return writer.close()


#: no encoder version string, random ids or dates in the container: same frames, same file
_BITEXACT = ["-fflags", "+bitexact", "-flags:v", "+bitexact", "-map_metadata", "-1"]


def export_video(src: str | os.PathLike[str], dst: str | os.PathLike[str], codec: str = "ffv1",
                 crf: int = 18) -> Path:
    """Encode the ``.ffr`` file ``src`` into ``dst`` with ffmpeg; returns ``dst``.

    Args:
        codec: ``"ffv1"`` (lossless; use a ``.mkv`` name) or ``"libx264"`` (lossy, ``.mp4``).
        crf: x264's constant rate factor (``"libx264"`` only).
    """
    if codec not in ("ffv1", "libx264"):
        raise ValueError(f"codec: expected 'ffv1' or 'libx264', got {codec!r}")
    iio = _imageio_ffmpeg()
    reader = FfrReader(src)
    dst = Path(dst)
    tmp = dst.with_name(f".{dst.stem}.tmp-{os.getpid()}{dst.suffix}")
    if codec == "ffv1":
        opts = {"codec": "ffv1", "pix_fmt_out": "bgr0", "output_params": ["-level", "3", *_BITEXACT]}
    else:
        opts = {"codec": "libx264", "pix_fmt_out": "yuv420p", "output_params": ["-crf", str(int(crf)), *_BITEXACT]}
    writer = iio.write_frames(os.fspath(tmp), (reader.width, reader.height), pix_fmt_in="bgr24", fps=reader.fps,
                              macro_block_size=1, quality=None, **opts)
    writer.send(None)
    try:
        for i in range(reader.frames):
            writer.send(np.ascontiguousarray(reader.read(i)))
        writer.close()
    except BaseException:
        writer.close()
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, dst)
    return dst


class FfmpegReader:
    """Frames of a video file decoded by ffmpeg, by range; the same interface as :class:`FfrReader` for the runner.

    Attributes:
        path, width, height, fps, frames (count), meta (``{}``), keyframes ((n,) int64 frame indices).

    Raises:
        MissingVideoError: no such file.
        CorruptVideoError: ffmpeg cannot read it, or it has no video frames.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        iio = _imageio_ffmpeg()
        self.path = Path(path)
        if not self.path.is_file():
            raise MissingVideoError(self.path, "no such video file")
        self._exe = str(iio.get_ffmpeg_exe())
        try:
            gen = iio.read_frames(os.fspath(self.path), pix_fmt="bgr24")
            info = next(gen)
            gen.close()
            self.width, self.height = (int(v) for v in info["size"])
            self.fps = float(info["fps"])
        except (OSError, RuntimeError, StopIteration, KeyError, ValueError, TypeError) as exc:
            raise CorruptVideoError(self.path, f"ffmpeg cannot read it ({type(exc).__name__}: {exc})") from None
        self.meta: dict[str, Any] = {}
        log = self._run(["-i", os.fspath(self.path), "-map", "0:v:0", "-c", "copy", "-f", "null", "-"])
        counts = re.findall(r"frame=\s*(\d+)", log)
        self.frames = int(counts[-1]) if counts else 0
        if self.frames < 1:
            raise CorruptVideoError(self.path, "no video frames")
        log = self._run(["-skip_frame", "nokey", "-i", os.fspath(self.path), "-map", "0:v:0", "-vf", "showinfo",
                         "-f", "null", "-"])
        times = [float(t) for t in re.findall(r"pts_time:\s*(-?[\d.]+(?:e-?\d+)?)", log)]
        if not times:
            raise CorruptVideoError(self.path, "no keyframe found")
        keys = np.rint((np.asarray(times) - times[0]) * self.fps).astype(np.int64)
        self.keyframes = np.unique(keys[(keys >= 0) & (keys < self.frames)])

    def _run(self, args: list[str]) -> str:
        proc = subprocess.run([self._exe, "-hide_banner", "-nostdin", *args], capture_output=True, text=True,
                              errors="replace")
        if proc.returncode != 0:
            tail = proc.stderr.strip().splitlines()[-1:] or ["no message"]
            raise CorruptVideoError(self.path, f"ffmpeg failed: {tail[0]}")
        return proc.stderr

    def iter_range(self, start: int, stop: int, batch: int) -> Iterator[np.ndarray]:
        """Frames ``start`` .. ``stop - 1`` in (<= batch, H, W, 3) uint8 arrays, from one ffmpeg process.

        ``start`` must be 0 or a keyframe (:attr:`keyframes`).
        """
        if not 0 <= start <= stop <= self.frames:
            raise IndexError(f"start, stop: expected 0 <= start <= stop <= {self.frames}, got {start}, {stop}")
        if start and start not in set(self.keyframes.tolist()):
            raise ValueError(f"start: expected 0 or a keyframe, got {start}")
        if stop == start:
            return
        seek = ["-noaccurate_seek", "-ss", repr((start + 0.5) / self.fps)] if start else []
        cmd = [self._exe, "-hide_banner", "-nostdin", "-loglevel", "error", *seek, "-i", os.fspath(self.path),
               "-map", "0:v:0", "-frames:v", str(stop - start), "-f", "rawvideo", "-pix_fmt", "bgr24", "-"]
        size = self.width * self.height * 3
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            assert proc.stdout is not None
            done = 0
            while done < stop - start:
                n = min(batch, stop - start - done)
                buf = proc.stdout.read(n * size)
                if len(buf) != n * size:
                    err = proc.stderr.read().decode(errors="replace").strip() if proc.stderr else ""
                    raise CorruptVideoError(self.path, f"frames {start + done}..{stop - 1}: decoded "
                                            f"{len(buf) // size} of {n} ({err or 'stream ended early'})")
                yield np.frombuffer(buf, np.uint8).reshape(n, self.height, self.width, 3).copy()
                done += n
        finally:
            proc.kill()
            proc.wait()
            for f in (proc.stdout, proc.stderr):
                if f is not None:
                    f.close()

    def read_range(self, start: int, stop: int) -> np.ndarray:
        """Frames ``start`` .. ``stop - 1`` as one (stop - start, H, W, 3) uint8 array."""
        parts = list(self.iter_range(start, stop, max(stop - start, 1)))
        return np.concatenate(parts) if parts else np.empty((0, self.height, self.width, 3), np.uint8)
