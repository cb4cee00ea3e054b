"""Does `ffaccel quality` keep up with real time on 1080p30, decode included?

Writes a synthetic 1080p30 clip (smooth textured background panning, a moving
high-detail patch, mild noise) with OpenCV's mp4v encoder and, where the
imageio-ffmpeg binary is available, an H.264 (libx264) copy of it. Then times, median
of --repeat runs:

  decode    OpenCV decode of every frame to BGR, nothing else (the floor);
  command   `python -m ffaccel.quality CLIP --no-progress` as a subprocess, wall time
            from process start to exit (interpreter start-up and imports included);
  relative  the same with --reference (two videos decoded).

fps = frames / seconds; real-time factor = fps / 30 (>= 1 keeps up with real time).
cpu s = user + system CPU seconds of the child process (less sensitive than wall time
to other load on the machine; the load average is printed with the results).

--monitor times QualityMonitor.update alone on 1080p frames already in memory, with
numpy and, where cupy and a GPU are present, with cupy arrays (the GPU path).

    PYTHONPATH=src python3 benchmarks/bench_quality.py [--seconds 10] [--repeat 3] [--monitor]
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

SRC = Path(__file__).resolve().parent.parent / "src"
WIDTH, HEIGHT, FPS = 1920, 1080, 30


def write_clip(path: Path, frames: int, seed: int = 0) -> None:
    import cv2

    rng = np.random.default_rng(seed)
    # Smooth background with structure at a few scales, wider than the frame to pan.
    coarse = rng.integers(0, 256, (18, 60, 3), dtype=np.uint8)
    background = cv2.resize(coarse, (WIDTH + 4 * frames, HEIGHT), interpolation=cv2.INTER_CUBIC)
    fine = cv2.resize(rng.integers(0, 256, (270, 480, 3), dtype=np.uint8), (WIDTH + 4 * frames, HEIGHT))
    background = cv2.addWeighted(background, 0.8, fine, 0.2, 0)
    patch = rng.integers(0, 256, (400, 400, 3), dtype=np.uint8)  # a detailed "face" region
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), FPS, (WIDTH, HEIGHT))
    if not writer.isOpened():
        raise SystemExit("cv2.VideoWriter cannot write mp4v here")
    for i in range(frames):
        frame = np.ascontiguousarray(background[:, 4 * i:4 * i + WIDTH])
        y, x = 340 + int(40 * np.sin(i / 9)), 760 + int(60 * np.cos(i / 11))
        frame[y:y + 400, x:x + 400] = patch
        noise = rng.integers(-3, 4, (HEIGHT // 8, WIDTH // 8, 1), dtype=np.int16)
        frame = np.clip(frame + np.kron(noise, np.ones((8, 8, 1), np.int16)), 0, 255).astype(np.uint8)
        writer.write(frame)
    writer.release()


def to_h264(source: Path, target: Path) -> bool:
    try:
        import imageio_ffmpeg
    except ImportError:
        return False
    command = [imageio_ffmpeg.get_ffmpeg_exe(), "-y", "-loglevel", "error", "-i", str(source),
               "-c:v", "libx264", "-preset", "medium", "-crf", "20", "-pix_fmt", "yuv420p", str(target)]
    return subprocess.run(command, check=False).returncode == 0


def time_decode(path: Path) -> tuple[float, int]:
    import cv2

    capture = cv2.VideoCapture(str(path))
    count = 0
    start = time.perf_counter()
    while True:
        ok, _ = capture.read()
        if not ok:
            break
        count += 1
    elapsed = time.perf_counter() - start
    capture.release()
    return elapsed, count


def time_command(args: list[str]) -> tuple[float, float]:
    """(wall seconds, child CPU seconds) of one run of the command."""
    env = dict(os.environ, PYTHONPATH=str(SRC) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "ffaccel.quality", *args, "--no-progress"],
                            env=env, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if result.returncode != 0:
        raise SystemExit(f"command failed: {result.stderr.strip()}")
    return elapsed, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def time_monitor(repeat: int) -> None:
    """Per-frame cost of QualityMonitor.update on in-memory 1080p frames (no decode)."""
    sys.path.insert(0, str(SRC))
    from ffaccel.quality import QualityMonitor

    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 256, (HEIGHT, WIDTH, 3), dtype=np.uint8) for _ in range(8)]
    kinds: list[tuple[str, list, object]] = [("numpy", frames, None)]
    try:
        import cupy

        if cupy.cuda.runtime.getDeviceCount() > 0:
            kinds.append(("cupy", [cupy.asarray(f) for f in frames], cupy))
    except Exception as exc:  # noqa: BLE001 - report why the GPU row is missing
        print(f"# no GPU row: {type(exc).__name__}: {exc}")
    print(f"{'frames':6} {'what':18} {'ms/frame':>9} {'fps':>8}")
    for name, batch, cupy_module in kinds:
        for label, reference in (("monitor", None), ("monitor+reference", batch)):
            timings = []
            for _ in range(repeat):
                monitor = QualityMonitor()  # defaults: centre 640x640, stride 2
                count = 120
                start = time.perf_counter()
                for i in range(count):
                    ref = None if reference is None else reference[(i + 3) % len(batch)]
                    monitor.update(batch[i % len(batch)], reference=ref)
                if cupy_module is not None:
                    cupy_module.cuda.Device().synchronize()
                timings.append((time.perf_counter() - start) / count)
            per_frame = statistics.median(timings)
            print(f"{name:6} {label:18} {per_frame * 1e3:9.2f} {1 / per_frame:8.1f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=10.0, help="clip length (default 10 s)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per figure; the median is reported")
    parser.add_argument("--keep", type=Path, help="keep the clips in this folder")
    parser.add_argument("--monitor", action="store_true", help="time QualityMonitor alone (numpy, cupy)")
    args = parser.parse_args()
    print(f"# bench_quality  {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC  "
          f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, python {platform.python_version()}, "
          f"load average {os.getloadavg()[0]:.2f}")
    if args.monitor:
        time_monitor(args.repeat)
        return 0
    frames = round(args.seconds * FPS)
    folder = Path(args.keep or tempfile.mkdtemp(prefix="ffaccel-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    clips = {"mp4v": folder / "clip_mp4v.mp4"}
    reference = folder / "reference_mp4v.mp4"
    if not (clips["mp4v"].exists() and reference.exists()):
        write_clip(clips["mp4v"], frames)
        write_clip(reference, frames, seed=1)
    h264 = folder / "clip_h264.mp4"
    if h264.exists() or to_h264(clips["mp4v"], h264):
        clips["h264"] = h264

    print(f"# clip: {WIDTH}x{HEIGHT} @ {FPS} fps, {frames} frames; command defaults (centre 640x640, stride 2)")
    print(f"{'codec':6} {'what':10} {'wall s':>7} {'fps':>7} {'x real time':>12} {'cpu s':>7}")
    for codec, clip in clips.items():
        decoded = [time_decode(clip) for _ in range(args.repeat)]
        count = decoded[0][1]
        runs = {"decode": (statistics.median(t for t, _ in decoded), None)}
        commands = {"command": [str(clip)]}
        if codec == "mp4v":
            commands["relative"] = [str(clip), "--reference", str(reference)]
        for what, command in commands.items():
            timed = [time_command(command) for _ in range(args.repeat)]
            runs[what] = (statistics.median(w for w, _ in timed), statistics.median(c for _, c in timed))
        for what, (seconds, cpu) in runs.items():
            fps = count / seconds
            cpu_text = "" if cpu is None else f"{cpu:7.2f}"
            print(f"{codec:6} {what:10} {seconds:7.2f} {fps:7.1f} {fps / FPS:12.2f} {cpu_text:>7}")
    print(f"# load average at the end {os.getloadavg()[0]:.2f}")
    if not args.keep:
        shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
