"""The job runner: videos -> segments -> pass 1 (detect) -> whole-video stabilise -> pass 2 (swap) -> join.

Ray does the scheduling: one actor per GPU (``num_gpus=1``), or one per CPU worker
where there is no GPU, handed work by :class:`ray.util.ActorPool`; actors are restarted
and their in-flight call retried by Ray when their process dies
(``max_restarts``/``max_task_retries``). The driver only plans segments, stabilises
tracks and joins segment files. No wait is unbounded: an actor that does not start (or
restart) in ``start_timeout_s``, or a run without progress for ``stall_timeout_s``, raises
(:mod:`ffaccel.distributed.watch`).
"""

from __future__ import annotations

import os
import re
import shutil
import sys
import time
import uuid
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from ffaccel.distributed.container import FfrReader, FfrWriter, RawLayout, VideoReadError, join_ffr
from ffaccel.distributed.pipeline import Pipeline
from ffaccel.distributed.progress import JobProgress, ProgressBoard, ProgressView
from ffaccel.distributed.watch import ActorWatch, ray_logs_dir
from ffaccel.distributed.worker import PROFILE_ENV, SegmentWorker, apply_range, open_video

#: calls queued on each actor at once: one running, one waiting (hides the driver's hand-over)
CALLS_PER_ACTOR = 2

__all__ = ["Job", "JobResult", "plan_segments", "open_video", "run_local", "run_jobs", "SegmentWorker"]


@dataclass(frozen=True)
class Job:
    """One video to process, ``input`` to ``output`` (written atomically).

    ``input``: an ``.ffr`` file, or any video ffmpeg reads (mp4, mkv, ...; constant frame rate,
    closed GOPs; see :class:`~ffaccel.distributed.video.FfmpegReader`). ``output``: ``.ffr``,
    ``.mkv`` (FFV1, lossless) or ``.mp4`` (x264, lossy); the last two are encoded from the joined
    ``.ffr`` with imageio-ffmpeg's ffmpeg.
    """

    input: str | os.PathLike[str]
    output: str | os.PathLike[str]


@dataclass
class JobResult:
    """How a job ended.

    Attributes:
        job: the :class:`Job`.
        ok: True when the output was written.
        error: None, or ``"<ErrorType>: message"`` (e.g. ``"CorruptVideoError: a.ffr: truncated"``).
        error_type: the exception class name, or None.
        frames: frames in the input (0 if it could not be opened).
        segments: segment (start, stop) frame ranges.
        wall_s: seconds from the run's start until this job finished.
        track: (T, K, 2) float64 stabilised landmarks of the whole video (None until pass 1 ends).
    """

    job: Job
    ok: bool = False
    error: str | None = None
    error_type: str | None = None
    frames: int = 0
    segments: list[tuple[int, int]] = field(default_factory=list)
    wall_s: float = 0.0
    track: np.ndarray | None = None


_TERMINAL_CODES = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def plain_text(message: str) -> str:
    """``message`` without terminal colour codes (Ray colours the text of its errors, which then
    showed as ``\x1b[36m`` in a job's ``error``).

    Example:
        >>> plain_text("\x1b[36mray::SegmentWorker.swap()\x1b[39m (pid=7) died")
        'ray::SegmentWorker.swap() (pid=7) died'
    """
    return _TERMINAL_CODES.sub("", message)


def plan_segments(frames: int, keyframes: Sequence[int] | np.ndarray, segment_frames: int) -> list[tuple[int, int]]:
    """Cut ``frames`` frames into (start, stop) ranges that start at keyframes.

    A segment starts at frame 0 and then at the first keyframe at or after each multiple
    of ``segment_frames`` past the previous start; segments cover every frame exactly
    once, in order.

    Example:
        >>> plan_segments(10, range(10), 4)
        [(0, 4), (4, 8), (8, 10)]
        >>> plan_segments(10, [0, 5], 4)
        [(0, 5), (5, 10)]
    """
    if frames < 1:
        raise ValueError(f"frames: expected >= 1, got {frames}")
    if segment_frames < 1:
        raise ValueError(f"segment_frames: expected >= 1, got {segment_frames}")
    keys = np.unique(np.asarray(list(keyframes), np.int64))
    keys = keys[(keys > 0) & (keys < frames)]
    starts = [0]
    for k in keys:
        if k - starts[-1] >= segment_frames:
            starts.append(int(k))
    return [(s, e) for s, e in zip(starts, [*starts[1:], frames], strict=True)]


def _export_target(output: Path) -> tuple[Path, str | None]:
    """(.ffr file to write, ffmpeg codec to export it with or None) for an output name."""
    suffix = output.suffix.lower()
    if suffix == ".ffr":
        return output, None
    codec = {".mkv": "ffv1", ".mp4": "libx264"}.get(suffix)
    if codec is None:
        raise ValueError(f"output: expected a .ffr, .mkv (FFV1, lossless) or .mp4 (x264) name, got {output.name!r}")
    return output.with_name(f".{output.name}.joined-{os.getpid()}.ffr"), codec


def _finish_output(ffr: Path, output: Path, codec: str | None) -> None:
    if codec is None:
        return
    from ffaccel.distributed.video import export_video

    try:
        export_video(ffr, output, codec=codec)
    finally:
        ffr.unlink(missing_ok=True)


def run_local(job: Job, pipeline: Pipeline, codec: str = "raw") -> JobResult:
    """The same job in this one process, no Ray: the reference the distributed run must equal byte for byte.

    Detects every frame, stabilises the whole track with :func:`stabilise_track`, swaps
    and writes ``job.output`` (atomically). Errors are raised, not recorded.
    """
    started = time.perf_counter()
    job = Job(os.path.abspath(job.input), os.path.abspath(job.output))  # a pipeline may change the cwd
    reader = open_video(job.input)
    pipeline.load()
    track = apply_range(pipeline, reader, 0, reader.frames, None, None)
    assert track is not None
    smooth = pipeline.stabilise(track, reader.height)
    target, export = _export_target(Path(job.output))
    with FfrWriter(target, reader.width, reader.height, reader.fps, codec=codec, meta={}) as w:
        apply_range(pipeline, reader, 0, reader.frames, smooth, lambda _, frames: [w.write(f) for f in frames])
    _finish_output(target, Path(job.output), export)
    return JobResult(job, True, frames=reader.frames, segments=[(0, reader.frames)],
                     wall_s=time.perf_counter() - started, track=smooth)


def _import_ray() -> Any:
    try:
        import ray
    except ImportError as exc:
        raise ImportError('ffaccel.distributed needs Ray: pip install "ffaccel[ray]"') from exc
    return ray


def run_jobs(jobs: Sequence[Job], pipeline: Pipeline, *, address: str | None = None, workers: int | None = None,
             gpus: bool | None = None, segment_frames: int = 120, codec: str = "raw", progress: bool = True,
             stream: TextIO | None = None, max_task_retries: int = 3, gpu_fraction: float = 1.0,
             cpus_per_worker: int = 1, ray_init: dict[str, Any] | None = None,
             start_timeout_s: float | None = 300.0, stall_timeout_s: float | None = 1800.0) -> list[JobResult]:
    """Run ``pipeline`` over ``jobs`` on a Ray cluster; one :class:`JobResult` per job, in order.

    Args:
        jobs: the videos. Inputs and outputs must be on a file system every node sees.
        pipeline: a :class:`Pipeline` (e.g. :class:`~ffaccel.distributed.DemoPipeline`).
        address: ``ray.init(address=...)`` when Ray is not initialised yet (None: a local cluster).
        workers: number of actors. Default: one per GPU with ``gpus`` (one per ``gpu_fraction``
            of a GPU), else one per CPU of the cluster.
        gpus: GPU actors (``num_gpus=gpu_fraction`` and ``cpus_per_worker`` CPUs each). None: when
            the cluster has GPUs.
            The pipeline decides what runs on the GPU (e.g. ``DemoPipeline(device="cuda")``).
        gpu_fraction: GPU share per actor: 1 (default) is one actor per GPU; 0.5 puts two on each.
        cpus_per_worker: CPUs reserved per actor (Ray's ``num_cpus``); ffaccel's CPU kernels in
            the actor use that many threads (``FFACCEL_NUM_THREADS``), so actors do not oversubscribe.
        segment_frames: target segment length; segments start at keyframes.
        codec: ``.ffr`` codec of the segments and the ``.ffr`` output: ``"raw"`` (default; 6.2 MB a
            1080p frame, no CPU) or ``"zlib"`` (level 1: 1.6x smaller on a 1080p demo frame, at
            0.6 s of CPU a frame on the loaded 2-core machine).
        progress: draw a bar per job and the cluster's frames/s on ``stream`` (stderr).
        max_task_retries: how often Ray retries a call whose actor died.
        ray_init: extra keyword arguments for ``ray.init`` (e.g. ``num_cpus``).
        start_timeout_s: seconds each actor may take to start (its pipeline's ``load`` included),
            and to come back after its process died; then :class:`~ffaccel.distributed.watch.ActorStartError`
            names the actors, their state, the resources asked for and free, and Ray's log folder.
            Ray itself waits without end for resources no node has, and restarts an actor whose
            process dies while it starts for ever. None: no limit. While actors are starting, a
            line every 30 s on ``stream`` (stderr) says how many are up, with ``progress`` or not.
        stall_timeout_s: seconds without a finished call or (with ``progress``) a reported frame
            before :class:`~ffaccel.distributed.watch.StallError`; None: no limit.

    A job whose input is missing or corrupt, or whose pipeline raises, fails on its own
    (``JobResult.error``); the others finish. The example at the top of docs/distributed.md
    (run by the tests) shows a whole call. Segment files go to a folder beside the
    output, removed after the join; the output appears under its final name complete or
    not at all.
    """
    ray = _import_ray()
    from ray.util import ActorPool

    if segment_frames < 1:
        raise ValueError(f"segment_frames: expected >= 1, got {segment_frames}")
    if not isinstance(pipeline, Pipeline):
        raise TypeError(f"pipeline: expected an ffaccel.distributed.Pipeline, got {type(pipeline).__name__}")
    if not 0.0 < gpu_fraction <= 1.0:
        raise ValueError(f"gpu_fraction: expected 0 < gpu_fraction <= 1, got {gpu_fraction!r}")
    if workers is not None and workers < 1:
        raise ValueError(f"workers: expected >= 1 or None, got {workers!r}")
    if int(cpus_per_worker) < 1:
        raise ValueError(f"cpus_per_worker: expected >= 1, got {cpus_per_worker!r}")
    if codec not in ("raw", "zlib"):
        raise ValueError(f"codec: expected 'raw' or 'zlib', got {codec!r}")
    for name, value in (("start_timeout_s", start_timeout_s), ("stall_timeout_s", stall_timeout_s)):
        if value is not None and not (isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0):
            raise ValueError(f"{name}: expected a number > 0 or None, got {value!r}")
    jobs = [Job(os.path.abspath(j.input), os.path.abspath(j.output)) for j in jobs]
    for j in jobs:
        _export_target(Path(j.output))
    if not ray.is_initialized():
        _init_ray(ray, address, ray_init or {})
    started = time.perf_counter()
    resources = ray.cluster_resources()
    use_gpus = bool(resources.get("GPU", 0) > 0) if gpus is None else bool(gpus)
    width = workers or (int(resources.get("GPU", 0) / gpu_fraction) if use_gpus
                        else max(int(resources.get("CPU", 1)) // int(cpus_per_worker), 1))
    if width < 1:
        raise ValueError(f"workers: expected >= 1, got {width} (gpus={use_gpus}, cluster {resources})")

    results = [JobResult(job) for job in jobs]
    views = [JobProgress(Path(job.input).name) for job in jobs]
    view = ProgressView(views, stream, progress)
    board_name = f"ffaccel-progress-{uuid.uuid4().hex}" if progress else None
    board = ray.remote(num_cpus=0)(ProgressBoard).options(name=board_name).remote() if progress else None
    opts: dict[str, Any] = {"num_cpus": int(cpus_per_worker)}
    if use_gpus:
        opts["num_gpus"] = gpu_fraction
    actor_cls = ray.remote(max_restarts=-1, max_task_retries=max_task_retries, **opts)(SegmentWorker)
    profile = os.environ.get(PROFILE_ENV) or None  # debug: per-actor cProfile (ffaccel.distributed.worker)
    actors = [actor_cls.remote(pipeline, board_name, int(cpus_per_worker), profile) for _ in range(width)]
    # Ray waits without end for an actor it cannot place or that dies while starting: the watch bounds it
    request = {"CPU": float(cpus_per_worker)} | ({"GPU": float(gpu_fraction)} if use_gpus else {})
    watch = ActorWatch(ray, [(f"actor {k}", a) for k, a in enumerate(actors)], request, start_timeout_s,
                       stall_timeout_s, stream=stream, helpers=[("progress actor", board)] if board is not None else [])
    polls: dict[str, Any] = {}
    # CALLS_PER_ACTOR handles per actor: each actor has its next call queued while it runs one, so the
    # hand-over (result back, next call in) no longer leaves it idle between segments
    pool = ActorPool(actors * CALLS_PER_ACTOR)
    failed: set[int] = set()
    tracks: dict[int, dict[int, np.ndarray]] = {}
    parts_done: dict[int, set[int]] = {}
    work: dict[int, Path] = {}
    layouts: dict[int, RawLayout] = {}
    heights: dict[int, int] = {}

    def fail(j: int, message: str) -> None:
        if j in failed:
            return
        failed.add(j)
        message = plain_text(message)
        results[j].error = message
        results[j].error_type = message.split(":", 1)[0]
        results[j].wall_s = time.perf_counter() - started
        views[j].state = "failed"
        if j in work:
            shutil.rmtree(work[j], ignore_errors=True)
        if j in layouts:
            layouts[j].abort()

    # a finished video's index, fsync, join or export runs on a driver thread, so the loop below keeps
    # handing out segments meanwhile (on the loop, every actor would wait for each video's fsync)
    closer = ThreadPoolExecutor(max_workers=2, thread_name_prefix="ffaccel-finish")
    closing: dict[int, Future[float]] = {}

    def collect(wait: bool = False) -> None:
        for j, fut in list(closing.items()):
            if not (wait or fut.done()):
                continue
            del closing[j]
            try:
                results[j].wall_s = fut.result() - started
                results[j].ok = True
                views[j].state = "done"
            except Exception as exc:  # noqa: BLE001 - this job fails, the others go on
                fail(j, f"{type(exc).__name__}: {exc}")

    def tick() -> None:
        """Between results: finished outputs, the progress counts (a count that grew is progress),
        the watch's bounds, and the bars."""
        collect()
        if _refresh(ray, board, view, polls):
            watch.progress()
        watch.check()
        view.actors = f"actors {watch.started}/{width} started"
        view.draw()

    inflight: dict[tuple[int, str, int], Any] = {}
    lost: list[str] = []  # the errors of calls Ray gave up on (the last names why a job may be left without actors)

    def dispatch(method: str) -> Any:
        def call(actor: Any, t: dict[str, Any]) -> Any:
            ref = (actor.skip if t["job"] in failed else getattr(actor, method)).remote(t)
            inflight[(t["job"], method, t["segment"])] = ref
            return ref

        return call

    def lost_calls() -> None:
        """A call failed beyond Ray's retries: fail the jobs of the calls that ended in an error."""
        for key, ref in list(inflight.items()):
            if ray.wait([ref], timeout=0)[0]:
                try:
                    ray.get(ref)
                except Exception as exc:  # noqa: BLE001
                    inflight.pop(key)
                    lost.append(f"{type(exc).__name__}: {exc}")
                    fail(key[0], lost[-1])

    for j, job in enumerate(jobs):
        try:
            reader = open_video(job.input)
        except VideoReadError as exc:
            fail(j, f"{type(exc).__name__}: {exc}")
            continue
        segs = plan_segments(reader.frames, reader.keyframes, segment_frames)
        results[j].frames, results[j].segments = reader.frames, segs
        views[j].frames, views[j].state = reader.frames, "running"
        heights[j] = reader.height
        out = Path(job.output)
        if codec == "raw":  # fixed-size records: actors write their frames in place, no segment files to join
            layouts[j] = RawLayout(_export_target(out)[0], reader.width, reader.height, reader.fps, reader.frames,
                                   uuid.uuid4().hex[:12])
            layouts[j].create()
        else:
            work[j] = out.with_name(f".{out.name}.parts-{uuid.uuid4().hex[:8]}")
            work[j].mkdir(parents=True)
        tracks[j], parts_done[j] = {}, set()
        for s, (a, b) in enumerate(segs):
            pool.submit(dispatch("detect"), {"job": j, "segment": s, "input": os.fspath(job.input), "start": a,
                                             "stop": b})

    def finish_pass1(j: int) -> None:
        segs = results[j].segments
        track = np.concatenate([tracks[j][s] for s in range(len(segs))])
        smooth = pipeline.stabilise(track, heights[j])
        results[j].track = smooth
        for s, (a, b) in enumerate(segs):
            pool.submit(dispatch("swap"), {"job": j, "segment": s, "input": os.fspath(jobs[j].input), "start": a,
                                           "stop": b, "track": smooth[a:b], "codec": codec,
                                           "layout": layouts.get(j),
                                           "part": os.fspath(work[j] / f"{s:06d}.ffr") if j in work else None})

    def finish_pass2(j: int) -> None:
        segs = results[j].segments
        target, export = _export_target(Path(jobs[j].output))
        if j in layouts:
            layout = layouts.pop(j)

            def close() -> float:
                try:
                    layout.finish()  # checks that every frame was written
                except BaseException:
                    layout.abort()
                    raise
                _finish_output(target, Path(jobs[j].output), export)
                return time.perf_counter()
        else:
            parts, folder = [work[j] / f"{s:06d}.ffr" for s in range(len(segs))], work[j]

            def close() -> float:
                for p, (a, b) in zip(parts, segs, strict=True):
                    if FfrReader(p).frames != b - a:  # never join a segment with a lost or extra frame
                        raise RuntimeError(f"segment {p.name}: {FfrReader(p).frames} frames, expected {b - a}")
                join_ffr(parts, target)
                shutil.rmtree(folder, ignore_errors=True)
                _finish_output(target, Path(jobs[j].output), export)
                return time.perf_counter()

        closing[j] = closer.submit(close)

    try:
        while pool.has_next():
            try:
                status, task, value = pool.get_next_unordered(timeout=0.5)
            except TimeoutError:  # nothing back yet: the checks below run outside this handler
                status = None
            except ray.exceptions.RayError:
                watch.progress()
                lost_calls()
                continue
            if status is None:
                tick()
                continue
            watch.progress()
            j = task["job"]
            inflight.pop((j, "swap" if "track" in task else "detect", task["segment"]), None)
            if status == "skipped" or j in failed:
                continue
            if status == "error":
                fail(j, value)
                continue
            try:
                if "track" not in task:
                    tracks[j][task["segment"]] = value
                    if len(tracks[j]) == len(results[j].segments):
                        finish_pass1(j)
                else:
                    parts_done[j].add(task["segment"])
                    if len(parts_done[j]) == len(results[j].segments):
                        finish_pass2(j)
            except Exception as exc:  # noqa: BLE001 - this job fails, the others go on
                fail(j, f"{type(exc).__name__}: {exc}")
            tick()
        collect(wait=True)
        for j, r in enumerate(results):  # segments left in the pool when every actor handle died
            if not r.ok and j not in failed:
                why = lost[-1].strip().splitlines()[0][:300] if lost else "no error was returned"
                fail(j, "RuntimeError: no live actor was left to run this job's segments (Ray's ActorPool drops "
                        f"an actor that died for good; the last such error: {why}); Ray's logs: {ray_logs_dir(ray)}")
    finally:
        closer.shutdown(wait=True)
        if profile:
            try:
                ray.get([a.dump_profile.remote() for a in actors], timeout=60)
            except (ray.exceptions.RayError, TimeoutError) as exc:  # GetTimeoutError is a TimeoutError
                print(f"ffaccel.distributed: actor profiles not all written ({type(exc).__name__})",
                      file=sys.stderr)
        for a in actors:
            ray.kill(a)
        if board is not None:
            ray.kill(board)
        for j, path in work.items():
            if not results[j].ok:
                shutil.rmtree(path, ignore_errors=True)
        for layout in layouts.values():
            layout.abort()
    for j, r in enumerate(results):
        if r.ok:
            views[j].detected = views[j].swapped = r.frames
    view.draw(force=True)
    return results


def _init_ray(ray: Any, address: str | None, extra: dict[str, Any]) -> None:
    """``ray.init`` for :func:`run_jobs`; a cluster it starts here runs its workers at nice 0.

    Ray starts worker processes at nice 15 (its ``worker_niceness``), so that on a busy node
    every other process, the driver included, goes first; the actors are the job's work, so
    a local cluster started by :func:`run_jobs` sets ``RAY_worker_niceness=0`` unless the
    environment says otherwise. A cluster started with ``ray start`` keeps its own setting.
    """
    key = "RAY_worker_niceness"
    before = os.environ.get(key)
    if address is None and before is None:
        os.environ[key] = "0"
    try:
        ray.init(address=address, include_dashboard=False, configure_logging=False, **extra)
    finally:
        if before is None:
            os.environ.pop(key, None)


def _refresh(ray: Any, board: Any, view: ProgressView, polls: dict[str, Any]) -> bool:
    """Fetch the progress actor's counts when the view is about to draw them; True when a count grew.

    Waits at most a second: a reply not back by then (a progress actor still starting) is read on
    a later turn, and the view draws the counts it has.
    """
    if board is None or not view.due():
        return False
    if "ref" not in polls:
        polls["ref"] = board.totals.remote()
    if not ray.wait([polls["ref"]], timeout=1.0)[0]:
        return False
    try:
        totals = ray.get(polls.pop("ref"))
    except ray.exceptions.RayError:  # the progress actor died: the bars stop, the run goes on
        return False
    before = sum(v.detected + v.swapped for v in view.jobs)
    for j, v in enumerate(view.jobs):
        v.detected = min(totals.get((j, 1), 0), v.frames)
        v.swapped = min(totals.get((j, 2), 0), v.frames)
    return sum(v.detected + v.swapped for v in view.jobs) > before
