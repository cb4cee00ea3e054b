"""Common video files in and out of ``.ffr``, with the ffmpeg binary of the ``imageio-ffmpeg`` wheel.

No system package is needed: ``pip install imageio-ffmpeg`` (part of ``ffaccel[ray]``)
brings a static ffmpeg.

- :func:`import_video`: decode any video ffmpeg reads (mp4, mkv, mov, ...) into an
  ``.ffr`` file, frame by frame, BGR24. Constant frame rate is assumed; ffmpeg's decoder
  gives the frames (the same bytes on every run of the same ffmpeg build).
- :func:`export_video`: an ``.ffr`` file into a video: ``"ffv1"`` in ``.mkv`` (lossless:
  :func:`import_video` of it gives the frames back byte for byte), or ``"libx264"``
  (lossy; CRF ``crf``) for viewing.

Both write atomically (temporary name, then rename).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from ffaccel.distributed.container import CorruptVideoError, FfrReader, FfrWriter, MissingVideoError

__all__ = ["import_video", "export_video", "ffmpeg_exe"]


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
        opts = {"codec": "ffv1", "pix_fmt_out": "bgr0", "output_params": ["-level", "3"]}
    else:
        opts = {"codec": "libx264", "pix_fmt_out": "yuv420p", "output_params": ["-crf", str(int(crf))]}
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
