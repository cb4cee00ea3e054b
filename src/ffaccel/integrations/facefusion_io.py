"""Uncompressed PNG temp frames for the FaceFusion adapter (private; ``raw_temp_png=True``).

With ``--temp-frame-format png`` (and FaceFusion 3.8's ``disk`` workflow strategy) FaceFusion
decodes the target video into numbered PNG files with ffmpeg, reads each one, processes
it, writes it back with ``cv2.imwrite`` and finally lets ffmpeg encode the numbered files.
PNG's deflate compression is most of that I/O's CPU time. PNG is lossless at every
compression level, so writing the temp frames with zlib level 0 and no row filter gives
the same decoded pixels (and the same output video) at a fraction of the cost, with files
about 2.7 times larger (a 1080p RGB frame: 6.2 MB instead of about 2.3 MB).

Two FaceFusion functions are replaced, and only act on temp frames; every other call is
handed to FaceFusion's own function unchanged:

- ``facefusion.ffmpeg_builder.set_output(path)``: when ``path`` is the temp-frame pattern
  (``<temp directory>/%0Nd.png``, as ``extract_frames`` passes it), the PNG encoder's
  options ``-compression_level 0 -pred none`` go before it;
- ``facefusion.vision.write_image(path, frame)``: when ``path`` is a numbered ``.png`` in
  FaceFusion's temp directory for the current target (a temp frame; not ``temp.png`` of
  the image workflow, not an output path), ``cv2.imwrite`` with
  ``IMWRITE_PNG_COMPRESSION=0`` and ``IMWRITE_PNG_FILTER_NONE``. On Windows stock's own
  function runs (it encodes through ``cv2.imencode`` and ``tofile``).
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable
from typing import Any

__all__ = ["FFMPEG_PNG_OPTIONS", "make_set_output", "make_write_image", "temp_directory", "is_temp_frame_path"]

#: ffmpeg options for its PNG encoder: no deflate compression, no row prediction.
FFMPEG_PNG_OPTIONS = ("-compression_level", "0", "-pred", "none")

_PATTERN = re.compile(r"%0\d+d\.png", re.IGNORECASE)
_NUMBERED = re.compile(r"\d+\.png", re.IGNORECASE)


def temp_directory() -> str | None:
    """FaceFusion's temp directory for the current target, or None if it cannot be read."""
    try:
        state = sys.modules["facefusion.state_manager"]
        helper = sys.modules["facefusion.temp_helper"]
        target = state.get_item("target_path")
        if not target:
            return None
        return os.path.normpath(helper.get_temp_directory_path(target))
    except Exception:  # FaceFusion not (fully) imported, or a layout we do not know: stock behaviour
        return None


def is_temp_frame_path(path: Any, pattern: bool) -> bool:
    """True for a temp frame of the current target: ``%0Nd.png`` (``pattern``) or ``<digits>.png``."""
    if not isinstance(path, str):
        return False
    name = os.path.basename(path)
    if not (_PATTERN if pattern else _NUMBERED).fullmatch(name):
        return False
    directory = temp_directory()
    return directory is not None and os.path.normpath(os.path.dirname(path)) == directory


def make_set_output(original: Callable[..., Any], module_name: str) -> Callable[..., Any]:
    """Replacement for ``ffmpeg_builder.set_output``: uncompressed PNG for the temp-frame pattern."""

    def set_output(output_path: Any, *args: Any, **kwargs: Any) -> Any:
        commands = original(output_path, *args, **kwargs)
        if is_temp_frame_path(output_path, pattern=True) and isinstance(commands, list):
            return [*FFMPEG_PNG_OPTIONS, *commands]
        return commands

    return set_output


def make_write_image(original: Callable[..., Any], module_name: str) -> Callable[..., Any]:
    """Replacement for ``vision.write_image``: uncompressed PNG for temp frames."""

    def write_image(image_path: Any, vision_frame: Any, *args: Any, **kwargs: Any) -> Any:
        if args or kwargs or os.name == "nt" or not is_temp_frame_path(image_path, pattern=False):
            return original(image_path, vision_frame, *args, **kwargs)
        import cv2

        params = [cv2.IMWRITE_PNG_COMPRESSION, 0]
        if hasattr(cv2, "IMWRITE_PNG_FILTER"):
            params += [cv2.IMWRITE_PNG_FILTER, cv2.IMWRITE_PNG_FILTER_NONE]
        return cv2.imwrite(image_path, vision_frame, params)

    return write_image
