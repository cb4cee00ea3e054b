"""What runs a segment: :func:`open_video`, the per-batch loop shared by both paths, and the actor class.

:func:`~ffaccel.distributed.run_local` and the actors of :func:`~ffaccel.distributed.run_jobs`
run the same loop (:func:`apply_range`) over the same readers, so the one-process run and the
distributed run do the same work per frame; the actor adds only Ray's hand-over per call.

Profiling (a debug option): with ``FFACCEL_DISTRIBUTED_PROFILE=<folder>`` in the driver's
environment, every actor runs its calls under :mod:`cProfile` and, before the driver ends it,
writes ``<folder>/actor-<pid>.prof`` (``pstats`` data) and ``<folder>/actor-<pid>.json``: the
actor's thread settings and niceness, and one record per call (``method``, ``job``, ``segment``,
``frames``; ``start`` and ``stop`` in ``time.time()`` seconds, so calls can be laid against the
driver's clock on the same host; ``cpu_s``, the process's CPU seconds; ``minor_faults``). The
folder must be one the actors can write (the same file system on a cluster).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from ffaccel.distributed.container import FfrReader, FfrWriter
from ffaccel.distributed.pipeline import Pipeline

__all__ = ["open_video", "apply_range", "SegmentWorker", "PROFILE_ENV"]

#: Environment variable of the driver that turns on the actors' profiles (a folder name).
PROFILE_ENV = "FFACCEL_DISTRIBUTED_PROFILE"


def open_video(path: str | os.PathLike[str]) -> Any:
    """Open an input video: an ``.ffr`` file (:class:`FfrReader`), or any other name through
    ffmpeg (:class:`~ffaccel.distributed.video.FfmpegReader`, needs imageio-ffmpeg).

    Raises:
        MissingVideoError: no such file.
        CorruptVideoError: not a complete ``.ffr`` file, or a file ffmpeg cannot read.
    """
    if os.fspath(path).lower().endswith(".ffr"):
        return FfrReader(path)
    from ffaccel.distributed.video import FfmpegReader

    return FfmpegReader(path)


def apply_range(pipeline: Pipeline, reader: Any, start: int, stop: int, track: np.ndarray | None,
                sink: Callable[[int, np.ndarray], Any] | None, report: Callable[[int], Any] | None = None
                ) -> np.ndarray | None:
    """Run pass 1 or pass 2 of ``pipeline`` on frames ``start`` .. ``stop - 1`` of ``reader``.

    Pass 1 (``track`` None): returns the (stop - start, K, 2) float64 landmarks.
    Pass 2: ``track`` is the (stop - start, K, 2) stabilised slice; each batch's
    (B, H, W, 3) uint8 output goes to ``sink(first_frame_index, frames)``; returns None.
    ``report(frames_done)`` is called after each batch.
    """
    out = []
    meta = {**reader.meta, "ffaccel_video": os.fspath(reader.path)}
    b1 = start
    for frames in reader.iter_range(start, stop, pipeline.batch_size):
        b0, b1 = b1, b1 + len(frames)
        idx = np.arange(b0, b1, dtype=np.int64)
        if track is None:
            lm = np.asarray(pipeline.detect(frames, idx, meta), np.float64)
            if lm.ndim != 3 or lm.shape[0] != b1 - b0 or lm.shape[2] != 2:
                raise ValueError(f"detect: expected ({b1 - b0}, K, 2) landmarks, got {lm.shape}")
            out.append(lm)
        else:
            assert sink is not None
            sink(b0, pipeline.process(frames, track[b0 - start:b1 - start], idx, meta))
        if report is not None:
            report(b1 - start)
    return np.concatenate(out) if track is None else None


class SegmentWorker:
    """The actor class (wrapped by ``ray.remote`` in :func:`~ffaccel.distributed.run_jobs`): loads
    the pipeline once, runs segments.

    Its calls return ``("ok", task, value)`` or ``("error", task, "Type: message")``:
    a bad input fails its job without an exception crossing Ray. Only the death of the
    process itself escapes, and Ray retries that call on the restarted actor.

    Args:
        pipeline: the :class:`Pipeline`; :meth:`Pipeline.load` runs here, once.
        board: name of the progress actor, or None.
        threads: ffaccel's CPU threads in this process (``FFACCEL_NUM_THREADS``), or None.
        profile: a folder: profile every call (see the module's docstring), or None.
    """

    def __init__(self, pipeline: Pipeline, board: str | None = None, threads: int | None = None,
                 profile: str | None = None) -> None:
        if threads is not None:  # read by ffaccel's CPU thread pool when first used, i.e. below
            os.environ["FFACCEL_NUM_THREADS"] = str(threads)
        keep_freed_memory()
        self.pipeline = pipeline
        self.board_name = board
        self.board: Any = None
        self._readers: dict[str, Any] = {}
        self._profile_dir = profile
        self._profiler: Any = None
        self._spans: list[dict[str, Any]] = []
        if profile is not None:
            import cProfile

            self._profiler = cProfile.Profile()
        self._timed("load", {}, pipeline.load)

    def pid(self) -> int:
        return os.getpid()

    def _timed(self, method: str, task: dict[str, Any], fn: Callable[[], Any]) -> Any:
        if self._profiler is None:
            return fn()
        import resource

        use = resource.getrusage(resource.RUSAGE_SELF)
        t0 = time.time()
        self._profiler.enable()
        try:
            return fn()
        finally:
            self._profiler.disable()
            self._spans.append({"method": method, "job": task.get("job"), "segment": task.get("segment"),
                                "frames": task.get("stop", 0) - task.get("start", 0), "start": t0,
                                "stop": time.time(), **_usage(use, resource.getrusage(resource.RUSAGE_SELF))})

    def dump_profile(self) -> str | None:
        """Write this actor's profile and call records (see the module's docstring); returns the .prof path."""
        if self._profiler is None or self._profile_dir is None:
            return None
        folder = Path(self._profile_dir)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"actor-{os.getpid()}.prof"
        self._profiler.dump_stats(os.fspath(path))
        info = {"pid": os.getpid(), "ffaccel_threads": _ffaccel_threads(), "env": _thread_env(),
                "cv2_threads": _cv2_threads(), "nice": os.nice(0), "calls": self._spans}
        path.with_suffix(".json").write_text(json.dumps(info, indent=1))
        return os.fspath(path)

    def _reader(self, path: str) -> Any:
        if path not in self._readers:
            if len(self._readers) >= 4:  # segments of a video mostly come together: keep a few open
                self._readers.pop(next(iter(self._readers)))
            self._readers[path] = open_video(path)
        return self._readers[path]

    def _reporter(self, task: dict[str, Any], stage: int) -> Any:
        if self.board_name is None:
            return None
        if self.board is None:
            import ray

            self.board = ray.get_actor(self.board_name)
        return lambda n: self.board.report.remote(task["job"], stage, task["segment"], n)

    def detect(self, task: dict[str, Any]) -> tuple[str, dict[str, Any], Any]:
        try:
            return "ok", task, self._timed("detect", task, lambda: self._detect(task))
        except Exception as exc:  # noqa: BLE001 - reported to the driver, which fails this job only
            return "error", task, f"{type(exc).__name__}: {exc}"

    def _detect(self, task: dict[str, Any]) -> np.ndarray | None:
        reader = self._reader(task["input"])
        return apply_range(self.pipeline, reader, task["start"], task["stop"], None, None, self._reporter(task, 1))

    def swap(self, task: dict[str, Any]) -> tuple[str, dict[str, Any], Any]:
        try:
            return "ok", task, self._timed("swap", task, lambda: self._swap(task))
        except Exception as exc:  # noqa: BLE001
            return "error", task, f"{type(exc).__name__}: {exc}"

    def _swap(self, task: dict[str, Any]) -> int:
        reader = self._reader(task["input"])
        report = self._reporter(task, 2)
        if task.get("layout") is not None:  # raw: the frames go straight to their place in the output
            layout = task["layout"]
            apply_range(self.pipeline, reader, task["start"], task["stop"], task["track"], layout.write_frames, report)
        else:
            with FfrWriter(task["part"], reader.width, reader.height, reader.fps, codec=task["codec"],
                           sync=False) as w:
                apply_range(self.pipeline, reader, task["start"], task["stop"], task["track"],
                            lambda _, frames: [w.write(f) for f in frames], report)
        return int(task["stop"] - task["start"])

    def skip(self, task: dict[str, Any]) -> tuple[str, dict[str, Any], Any]:
        return "skipped", task, None


#: glibc mallopt parameters (malloc.h)
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3


def keep_freed_memory(mmap_threshold: int = 32 << 20, trim_threshold: int = 1 << 30) -> bool:
    """Make glibc's malloc in this process reuse freed batch arrays instead of faulting in fresh pages.

    A batch of frames is tens of MB (8 x 720p: 22 MB). glibc serves such a block with a fresh
    ``mmap`` (up to its dynamic threshold) or from the heap top, which it gives back to the
    kernel (trims) once more than twice that threshold is free; the next batch then touches
    new zeroed pages, a page fault per 4 KiB. A fresh actor process measured about 220 minor
    faults a frame in pass 2 this way, where the long-lived driver (whose earlier large frees
    had already raised the thresholds) saw under 90 for both passes. Fixing the mmap
    threshold at ``mmap_threshold`` (glibc's maximum, 32 MiB) and trimming only above
    ``trim_threshold`` keeps blocks up to 32 MiB on the heap and their pages mapped for
    the next batch. Called in each actor (a process of ours); never in the caller's
    process. Returns False where the C library is not glibc (nothing changed).
    """
    try:
        import ctypes

        libc = ctypes.CDLL(None)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return bool(mallopt(_M_MMAP_THRESHOLD, int(mmap_threshold)) and mallopt(_M_TRIM_THRESHOLD, int(trim_threshold)))


def _usage(before: Any, after: Any) -> dict[str, float]:
    """This process's CPU seconds (all its threads, user + system) and minor page faults between two getrusage."""
    return {"cpu_s": after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime,
            "minor_faults": after.ru_minflt - before.ru_minflt}


def _ffaccel_threads() -> int | None:
    try:
        from ffaccel import _core

        return int(_core.build_info()["cpu_threads"])
    except Exception:  # noqa: BLE001 - a build without the field
        return None


def _cv2_threads() -> int | None:
    try:
        import cv2

        return int(cv2.getNumThreads())
    except Exception:  # noqa: BLE001 - OpenCV is optional
        return None


def _thread_env() -> dict[str, str | None]:
    keys = ("FFACCEL_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
    return {k: os.environ.get(k) for k in keys}
