"""Streaming video input for the quality command: one decoded frame in memory at a time.

OpenCV (``cv2``) is imported only here and only when a video is opened; without it
the error names the extra to install (``pip install "ffaccel[opencv]"``).
"""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

__all__ = ["VideoError", "VideoInfo", "VideoReader", "check_same_geometry", "prefetch_frames", "probe"]

OPENCV_EXTRA_HINT = 'pip install "ffaccel[opencv]" (or ".[opencv]" from a checkout)'


class VideoError(ValueError):
    """A video input that is missing, unreadable, or does not match its partner.

    The message is one line, meant to be shown to the user as is.
    """


def _cv2() -> ModuleType:
    try:
        import cv2
    except ImportError as exc:
        raise ModuleNotFoundError(f"reading videos needs OpenCV: {OPENCV_EXTRA_HINT}") from exc
    return cv2


@dataclass(frozen=True)
class VideoInfo:
    """What the container says about a video.

    Attributes:
        path: the file.
        width, height: frame size in pixels.
        frame_count: frames the container declares (0 if it declares none).
        fps: frames per second the container declares (0.0 if none).
    """

    path: str
    width: int
    height: int
    frame_count: int
    fps: float


def _open(path: str | os.PathLike[str], role: str) -> Any:
    file = Path(path)
    if not file.exists():
        raise VideoError(f"{role} video not found: {file}")
    if file.is_dir():
        raise VideoError(f"{role} video is a directory, not a file: {file}")
    if not os.access(file, os.R_OK):
        raise VideoError(f"{role} video is not readable (permission denied): {file}")
    cv2 = _cv2()
    capture = cv2.VideoCapture(str(file))
    if not capture.isOpened():
        capture.release()
        raise VideoError(f"{role} video cannot be opened as a video: {file}")
    return capture


def probe(path: str | os.PathLike[str], role: str = "input") -> VideoInfo:
    """Open ``path``, decode its first frame to prove it is readable, and describe it.

    Raises:
        VideoError: missing, a directory, unreadable, or no decodable frame. ``role``
            (e.g. "output", "reference") starts the message.
    """
    capture = _open(path, role)
    try:
        cv2 = _cv2()
        ok, frame = capture.read()
        if not ok or frame is None or frame.size == 0:
            raise VideoError(f"{role} video has no decodable frame: {path}")
        height, width = frame.shape[:2]
        count = int(capture.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        fps = float(capture.get(cv2.CAP_PROP_FPS) or 0.0)
    finally:
        capture.release()
    return VideoInfo(str(path), int(width), int(height), max(count, 0), fps)


def check_same_geometry(output: VideoInfo, reference: VideoInfo) -> None:
    """Raise ``VideoError`` unless both videos have the same size and frame count."""
    if (output.width, output.height) != (reference.width, reference.height):
        raise VideoError(
            f"size mismatch: output is {output.width}x{output.height} but reference is "
            f"{reference.width}x{reference.height}"
        )
    if output.frame_count and reference.frame_count and output.frame_count != reference.frame_count:
        raise VideoError(
            f"frame count mismatch: output has {output.frame_count} frames but reference has "
            f"{reference.frame_count}"
        )


class VideoReader:
    """Iterate over a video's frames as (H, W, 3) uint8 BGR numpy arrays, in order.

    Only the frame being handed out is held, so memory is constant in the video's
    length. ``skip()`` advances past a frame without converting it to BGR, for
    frames the caller does not need.

    Example:
        >>> from ffaccel.quality.video import VideoReader
        >>> with VideoReader("clip.mp4") as reader:  # doctest: +SKIP
        ...     for frame in reader:
        ...         print(frame.shape, frame.dtype)
    """

    def __init__(self, path: str | os.PathLike[str], role: str = "input") -> None:
        self.path = str(path)
        self.role = role
        self._capture = _open(path, role)
        self.frames_read = 0

    def read(self) -> np.ndarray | None:
        """The next frame, or None at the end of the video."""
        ok, frame = self._capture.read()
        if not ok or frame is None:
            return None
        self.frames_read += 1
        return frame

    def skip(self) -> bool:
        """Advance one frame without retrieving it; False at the end of the video."""
        ok = bool(self._capture.grab())
        if ok:
            self.frames_read += 1
        return ok

    def __iter__(self) -> Iterator[np.ndarray]:
        while (frame := self.read()) is not None:
            yield frame

    def close(self) -> None:
        """Release the decoder."""
        self._capture.release()

    def __enter__(self) -> VideoReader:  # noqa: PYI034 - typing.Self needs Python 3.11
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


_END = object()


def prefetch_frames(
    reader: VideoReader, needed: Callable[[int], bool] | None = None, depth: int = 4
) -> Generator[np.ndarray | None, None, None]:
    """Decode ``reader`` on a background thread, ``depth`` frames ahead of the caller.

    OpenCV releases the GIL while decoding, so decoding the next frames overlaps with
    the caller's measurements on another core. Yields each frame in order, or None
    for a frame where ``needed(index)`` is False (advanced with ``skip()``, not
    converted). Memory: at most ``depth + 2`` frames alive. Stops the thread when the
    caller stops iterating; an exception in the thread is re-raised here.
    """
    if depth < 1:
        raise ValueError(f"depth: expected an int >= 1, got {depth!r}")
    slots: queue.Queue[Any] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item: Any) -> bool:
        while not stop.is_set():
            try:
                slots.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def work() -> None:
        try:
            index = 0
            while not stop.is_set():
                if needed is None or needed(index):
                    frame = reader.read()
                    if frame is None:
                        break
                    item: Any = frame
                else:
                    if not reader.skip():
                        break
                    item = None
                if not put(item):
                    return
                index += 1
            put(_END)
        except Exception as exc:  # noqa: BLE001 - handed to the consumer and raised there
            put(exc)

    thread = threading.Thread(target=work, name=f"ffaccel-decode-{reader.role}", daemon=True)
    thread.start()
    try:
        while True:
            item = slots.get()
            if item is _END:
                return
            if isinstance(item, Exception):
                raise item
            yield item
    finally:
        stop.set()
        thread.join()
