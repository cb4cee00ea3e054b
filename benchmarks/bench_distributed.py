"""Benchmark: ffaccel.distributed frames/s at 1, 2, 4 CPU workers (and 1 GPU), efficiency, overhead.

All rows in one run, on the same clips (demo clips rendered to .ffr, the demo pipeline with
its stand-in swap), at each clip length of --frames (default two: 48 and 144 frames a clip):

  local     run_local: the single-process pipeline, one job after the other, same reading,
            detection, whole-video stabilisation, swap and lossless writing; ffaccel's CPU
            kernels on one thread (FFACCEL_NUM_THREADS=1), as in each worker.
  local-mt  the same with ffaccel's default thread count (all cores), for reference.
  ray-cpu   run_jobs with W CPU actors (one CPU and one ffaccel thread each), W in --widths.
  local-gpu, ray-gpu   with a GPU: the same with device="cuda": N actors on N GPUs for N in
            --gpu-widths (one actor per GPU), and 2 actors sharing one GPU (num_gpus=0.5).
Every row's outputs are hashed: identical_to_one_process says whether every round of the row
wrote the bytes of local (CPU rows) or local-gpu (GPU rows).

frames/s = output frames / wall seconds of the whole call (actor start-up, both passes,
segment writes and the join included; Ray's own start-up is not: the cluster is started
once before). Each row is the median of --repeats runs, taken round robin (every
configuration and clip length once per round) so that all rows see the same machine load.
efficiency(W) = fps(W) / (W * fps(1 worker)); overhead = 1 - fps(1 worker) / fps(local).

Fixed and per-frame cost: with two or more clip lengths, each configuration's median walls
are fitted as wall = fixed_s + per_frame_ms * frames (least squares over the lengths; with
two, the line through both). per_frame_overhead = per_frame_ms / per_frame_ms(local) - 1
(what Ray adds to every frame: a long video's overhead), fixed_overhead_s = fixed_s -
fixed_s(local) (actor start-up and the like, paid once per call); per-frame efficiency(W) =
per_frame_ms(1 worker) / (W * per_frame_ms(W)). The per-frame cost of one worker is the
figure the cost sketch in docs/distributed.md uses.

Ray starts worker processes at nice 15 (its worker_niceness); run_jobs's own local cluster and
this benchmark's (--worker-niceness, default 0) run them at nice 0 like the one-process rows,
so that on a busy machine the two sides compete for the cores alike.

cpu_ms_per_frame (Linux): CPU seconds (user + system) of the whole process tree during the row
(this driver, Ray's daemons, the actors, reaped processes included) per output frame; the
same fit gives cpu_fixed_s, cpu_per_frame_ms and cpu_per_frame_overhead. On a loaded machine,
where other processes' load stretches the walls, the CPU time is the steadier measure of what
Ray adds; the walls are what an idle host measures.

Progress: a line on stderr (flushed) for each step (clips, Ray's start, warm-up) and for every
row of every round as it ends, with its wall and the time since the start; the warm-up call
draws run_jobs's own progress bars (--progress draws them in the timed rows too, where the
progress actor's reports then count in the walls). No wait is unbounded: an actor that does not
start within --start-timeout seconds, or a row that reports nothing for --stall-timeout seconds
(run_jobs's start_timeout_s and stall_timeout_s; local-mt's child process too), stops the
benchmark with an error that names the row, the cause and Ray's log folder.

    python benchmarks/bench_distributed.py [--clips 4] [--frames 48,144] [--resolution 1280x720]
        [--crop-size 256] [--segment-frames 48] [--widths 1,2,4] [--gpu-widths 1,2,4,8] [--repeats 3]
        [--worker-niceness 0] [--start-timeout 120] [--stall-timeout 300] [--progress]
        [--json out.json] [--plot scaling.png]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(__file__))
os.environ.setdefault("RAY_DEDUP_LOGS", "0")

import _timing  # noqa: E402


def _commit() -> str:
    """FFACCEL_COMMIT if set (the lent GPU machine's copy of .git can be older than its work
    tree, so its own `git rev-parse` names a stale commit), else git's HEAD."""
    if os.environ.get("FFACCEL_COMMIT"):
        return os.environ["FFACCEL_COMMIT"]
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                              cwd=os.path.dirname(__file__), check=True).stdout.strip()
    except Exception:  # noqa: BLE001
        return "unknown"


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--clips", type=int, default=4)
    ap.add_argument("--frames", default="48,144", help="frames a clip; two or more lengths give the fixed and "
                                                       "per-frame fit")
    ap.add_argument("--resolution", default="1280x720")
    ap.add_argument("--crop-size", type=int, default=256)
    ap.add_argument("--segment-frames", type=int, default=48)
    ap.add_argument("--widths", default="1,2,4")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--codec", default="raw", choices=["zlib", "raw"])
    ap.add_argument("--gpu-widths", default="1",
                    help="GPU actor counts, one actor per GPU (e.g. 1,2,4,8; counts above the visible GPUs are "
                         "skipped); a 2-actors-on-one-GPU row (num_gpus=0.5) is always added")
    ap.add_argument("--worker-niceness", type=int, default=0, help="nice of Ray's worker processes (Ray's own "
                                                                   "default: 15; the one-process rows run at 0)")
    ap.add_argument("--start-timeout", type=float, default=120.0,
                    help="seconds an actor may take to start before the run stops with the cause (run_jobs's "
                         "start_timeout_s)")
    ap.add_argument("--stall-timeout", type=float, default=300.0,
                    help="seconds a ray row may go without a finished call, and a local-mt row may run, before "
                         "the run stops (run_jobs's stall_timeout_s)")
    ap.add_argument("--progress", action="store_true", help="run_jobs's progress bars in the timed ray rows too "
                                                            "(its progress actor's reports then count in the walls)")
    ap.add_argument("--json", default=None)
    ap.add_argument("--plot", default=None, help="PNG of frames/s against workers, with the ideal line (matplotlib)")
    args = ap.parse_args(argv)
    width, height = (int(v) for v in args.resolution.lower().split("x"))
    widths = [int(w) for w in args.widths.split(",")]
    lengths = sorted({int(v) for v in args.frames.split(",")})

    os.environ["FFACCEL_NUM_THREADS"] = "1"  # before ffaccel's thread pool exists; local-mt resets it below
    os.environ["RAY_worker_niceness"] = str(args.worker_niceness)  # read by the raylet ray.init starts below
    import ray

    from ffaccel.demo.pipeline import cuda_backend
    from ffaccel.distributed import DemoPipeline, Job, run_jobs, run_local, write_demo_clips

    tmp = Path(tempfile.mkdtemp(prefix="ffaccel-bench-dist-"))
    load_before = os.getloadavg()
    t_start = time.perf_counter()

    def say(text: str) -> None:
        print(f"[bench_distributed {time.perf_counter() - t_start:7.1f} s] {text}", file=sys.stderr, flush=True)

    try:
        clips = {}
        for n in lengths:
            t0 = time.perf_counter()
            clips[n] = write_demo_clips(tmp / f"in{n}", args.clips, frames=n, width=width, height=height,
                                        codec=args.codec)
            say(f"rendered {args.clips} demo clips of {n} frames at {args.resolution} in "
                f"{time.perf_counter() - t0:.1f} s")
        backend, gpu_reason = cuda_backend()
        gpus = _gpu_count() if backend is not None else 0
        gpu_widths = [n for n in (int(v) for v in args.gpu_widths.split(",")) if 1 <= n <= gpus]
        # Every actor reserves one CPU: the widest row, counting the two actors that share a GPU
        # (with --widths 1 and one GPU, num_cpus=1 left the sharing row's second actor unplaceable)
        ray_cpus = max(widths + gpu_widths + ([2] if gpus else []))
        say(f"GPU: {gpus} visible ({gpu_reason or 'ffaccel CUDA kernels usable'}); starting Ray with "
            f"num_cpus={ray_cpus}, num_gpus={gpus}")
        # log_to_driver stays on: with it off, a worker that cannot start (its Python cannot import ray or
        # ffaccel) or an actor's traceback never reaches this terminal, and a stuck run is silent
        ray.init(num_cpus=ray_cpus, num_gpus=gpus, include_dashboard=False, configure_logging=False)
        say(f"Ray {ray.__version__} up: {ray.cluster_resources()}")

        def local(n: int, device: str) -> None:
            for k, c in enumerate(clips[n]):
                run_local(Job(c, tmp / f"local_{k}.ffr"), DemoPipeline(args.crop_size, device=device), codec=args.codec)

        def local_mt(n: int) -> float:
            """The same in a child process with ffaccel's default threads (the pool reads the variable once)."""
            env = dict(os.environ)
            env.pop("FFACCEL_NUM_THREADS")
            code = ("import sys,time;from pathlib import Path;from ffaccel.distributed import *;"
                    f"cl=[Path(p) for p in {[str(c) for c in clips[n]]!r}];t=time.perf_counter()\n"
                    "for k,c in enumerate(cl): run_local(Job(c, Path(" + repr(str(tmp)) + ")/f'mt_{k}.ffr'), "
                    f"DemoPipeline({args.crop_size}), codec={args.codec!r})\n"
                    "print(time.perf_counter()-t)")
            out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True,
                                 timeout=args.stall_timeout)
            return float(out.stdout.strip().splitlines()[-1])

        def distributed(n: int, w: int, device: str = "cpu", frac: float = 1.0, progress: bool = False) -> None:
            jobs = [Job(c, tmp / f"ray_{k}.ffr") for k, c in enumerate(clips[n])]
            _check(run_jobs(jobs, DemoPipeline(args.crop_size, device=device), workers=w, gpus=device == "cuda",
                            gpu_fraction=frac, segment_frames=args.segment_frames, codec=args.codec,
                            progress=progress or args.progress, start_timeout_s=args.start_timeout,
                            stall_timeout_s=args.stall_timeout))

        configs: list[tuple[dict, object]] = [({"path": "local", "workers": 1}, lambda n: local(n, "cpu")),
                                              ({"path": "local-mt", "workers": 1}, local_mt)]
        configs += [({"path": "ray-cpu", "workers": w}, lambda n, w=w: distributed(n, w)) for w in widths]
        if gpus:
            configs.append(({"path": "local-gpu", "workers": 1}, lambda n: local(n, "cuda")))
            configs += [({"path": "ray-gpu", "workers": g, "gpu_fraction": f},
                         lambda n, g=g, f=f: distributed(n, g, "cuda", f))
                        for g, f in [(g, 1.0) for g in gpu_widths] + [(2, 0.5)]]
        cells = [(row, fn, n) for n in lengths for row, fn in configs]
        walls: list[list[float]] = [[] for _ in cells]
        cpus: list[list[float]] = [[] for _ in cells]
        digests: list[set[str]] = [set() for _ in cells]
        say(f"warm-up (not timed): local, then ray-cpu with 1 actor and run_jobs's progress bars; then "
            f"{args.repeats} rounds of {len(cells)} rows")
        t0 = time.perf_counter()
        try:
            local(lengths[0], "cpu")  # warm-up, not timed: this process's imports and the demo's assets
            distributed(lengths[0], 1, progress=True)
        except BaseException as exc:
            say(f"warm-up failed after {time.perf_counter() - t0:.1f} s: {type(exc).__name__}")
            raise
        for rnd in range(args.repeats):  # round robin: every configuration and length sees the same machine load
            for k, (row, fn, n) in enumerate(cells):
                label = _label(row, n, args.clips)
                with CpuMeter() as meter:
                    t0 = time.perf_counter()
                    try:
                        inner = fn(n)
                    except BaseException as exc:
                        say(f"round {rnd + 1}/{args.repeats}, row {k + 1}/{len(cells)} ({label}) failed after "
                            f"{time.perf_counter() - t0:.1f} s: {type(exc).__name__}")
                        raise
                    walls[k].append(inner if isinstance(inner, float) else time.perf_counter() - t0)
                if meter.cpu_s is not None:
                    cpus[k].append(meter.cpu_s)
                say(f"round {rnd + 1}/{args.repeats}, row {k + 1}/{len(cells)} ({label}): {walls[k][-1]:.2f} s, "
                    f"{args.clips * n / walls[k][-1]:.1f} frames/s")
                prefix = {"local": "local", "local-gpu": "local", "local-mt": "mt"}.get(row["path"], "ray")
                digests[k].add(_digest([tmp / f"{prefix}_{j}.ffr" for j in range(args.clips)]))
        rows = [dict(row, frames=n, fps=args.clips * n / statistics.median(w), walls_s=w, output_sha256=sorted(d))
                | ({"cpu_s": c, "cpu_ms_per_frame": 1e3 * statistics.median(c) / (args.clips * n)} if c else {})
                for (row, _, n), w, c, d in zip(cells, walls, cpus, digests)]
        for n in lengths:  # byte identity of the outputs: CPU rows against local, GPU rows against local-gpu
            same = [r for r in rows if r["frames"] == n]
            cpu_ref = next(r["output_sha256"] for r in same if r["path"] == "local")
            gpu_ref = next((r["output_sha256"] for r in same if r["path"] == "local-gpu"), None)
            for r in same:
                ref = gpu_ref if r["path"] in ("local-gpu", "ray-gpu") else cpu_ref
                r["identical_to_one_process"] = r["output_sha256"] == ref and len(ref) == 1
    finally:
        if ray.is_initialized():
            ray.shutdown()
        shutil.rmtree(tmp, ignore_errors=True)

    _ratios(rows)
    fits = _fits(rows, args.clips) if len(lengths) > 1 else []
    result = {"benchmark": "distributed", "commit": _commit(), "machine": _timing.machine(),
              "config": vars(args) | {"lengths": lengths, "frames_total": [args.clips * n for n in lengths]},
              "gpu": gpu_reason or "1 GPU", "loadavg_before": load_before, "loadavg_after": os.getloadavg(),
              "worker_niceness": args.worker_niceness, "rows": rows, "fits": fits}
    head = (f"{args.clips} clips at {args.resolution}, crop {args.crop_size}, segments of {args.segment_frames}, "
            f"commit {result['commit']}, load average {load_before[0]:.1f} -> {result['loadavg_after'][0]:.1f}")
    _timing.print_table(f"ffaccel.distributed, {head}", rows,
                        ["path", "workers", "frames", "fps", "ms_per_frame", "efficiency", "overhead_vs_local",
                         "cpu_ms_per_frame", "identical_to_one_process"])
    if fits:
        _timing.print_table(f"wall = fixed_s + per_frame_ms x frames, fitted over {lengths} frames a clip", fits,
                            ["path", "workers", "fixed_s", "per_frame_ms", "per_frame_overhead", "fixed_overhead_s",
                             "per_frame_efficiency", "cpu_fixed_s", "cpu_per_frame_ms", "cpu_per_frame_overhead"])
    if args.json:
        _timing.save_json(args.json, result)
    if args.plot:
        _plot([r for r in rows if r["frames"] == lengths[-1]], args.plot,
              f"{result['commit']}, {os.cpu_count()} CPUs, {result['gpu']}")
    return result


def _label(row: dict, frames: int, clips: int) -> str:
    """A row's name in the progress lines, e.g. ``ray-gpu x2 (0.5 GPU each), 8 clips x 48 frames``."""
    share = f" ({row['gpu_fraction']:g} GPU each)" if row.get("gpu_fraction", 1.0) != 1.0 else ""
    return f"{row['path']} x{row['workers']}{share}, {clips} clips x {frames} frames"


def _ratios(rows: list[dict]) -> None:
    """efficiency and overhead_vs_local of each row, against the rows of the same clip length."""
    for r in rows:
        base = {q["path"]: q["fps"] for q in rows if q["workers"] == 1 and q["frames"] == r["frames"]
                and q.get("gpu_fraction", 1.0) == 1.0}
        if r["path"] in ("ray-cpu", "ray-gpu"):
            r["efficiency"] = r["fps"] / (r["workers"] * base[r["path"]])
        if r["path"] in ("ray-cpu", "ray-gpu") and r["workers"] == 1:
            r["overhead_vs_local"] = 1.0 - r["fps"] / base["local" if r["path"] == "ray-cpu" else "local-gpu"]
        r["ms_per_frame"] = 1e3 / r["fps"]


def fit_line(frames: list[float], walls: list[float]) -> tuple[float, float]:
    """Least-squares (fixed_s, per_frame_s) of walls = fixed_s + per_frame_s * frames (two or more points).

    >>> fit_line([100, 300], [1.5, 3.5])
    (0.5, 0.01)
    """
    n = len(frames)
    mx, my = sum(frames) / n, sum(walls) / n
    sxx = sum((x - mx) ** 2 for x in frames)
    slope = sum((x - mx) * (y - my) for x, y in zip(frames, walls)) / sxx
    return round(my - slope * mx, 12), round(slope, 12)


def _fits(rows: list[dict], clips: int) -> list[dict]:
    """fixed_s and per_frame_ms of each configuration from its median walls at each clip length."""
    keys: list[tuple] = []
    for r in rows:
        key = (r["path"], r["workers"], r.get("gpu_fraction", 1.0))
        if key not in keys:
            keys.append(key)
    fits = []
    for path, workers, frac in keys:
        same = [r for r in rows if (r["path"], r["workers"], r.get("gpu_fraction", 1.0)) == (path, workers, frac)]
        fixed, per = fit_line([clips * r["frames"] for r in same], [statistics.median(r["walls_s"]) for r in same])
        fit = {"path": path, "workers": workers, "fixed_s": fixed, "per_frame_ms": 1e3 * per}
        if all(r.get("cpu_s") for r in same):
            cfixed, cper = fit_line([clips * r["frames"] for r in same], [statistics.median(r["cpu_s"]) for r in same])
            fit |= {"cpu_fixed_s": cfixed, "cpu_per_frame_ms": 1e3 * cper}
        if frac != 1.0:
            fit["gpu_fraction"] = frac
        fits.append(fit)
    for f in fits:
        ref = {"ray-cpu": "local", "ray-gpu": "local-gpu"}.get(f["path"])
        base = next((g for g in fits if g["path"] == ref), None)
        one = next((g for g in fits if g["path"] == f["path"] and g["workers"] == 1 and "gpu_fraction" not in g), None)
        if base is not None and f["workers"] == 1 and "gpu_fraction" not in f:
            f["per_frame_overhead"] = f["per_frame_ms"] / base["per_frame_ms"] - 1.0
            f["fixed_overhead_s"] = f["fixed_s"] - base["fixed_s"]
            if "cpu_per_frame_ms" in f and "cpu_per_frame_ms" in base:
                f["cpu_per_frame_overhead"] = f["cpu_per_frame_ms"] / base["cpu_per_frame_ms"] - 1.0
        if one is not None and ref is not None:
            f["per_frame_efficiency"] = one["per_frame_ms"] / (f["workers"] * f["per_frame_ms"])
    return fits


def _plot(rows: list[dict], path: str, title: str) -> None:
    """frames/s of the ray rows against their worker count, the one-process rows as dashes, ideal scaling dotted."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for kind, colour in (("cpu", "tab:blue"), ("gpu", "tab:green")):
        pts = sorted((r["workers"], r["fps"]) for r in rows if r["path"] == f"ray-{kind}" and r.get("gpu_fraction", 1.0) == 1.0)
        if not pts:
            continue
        xs, ys = zip(*pts)
        ax.plot(xs, ys, "o-", color=colour, label=f"ray, {kind.upper()} actors")
        ax.plot(xs, [ys[0] * x / xs[0] for x in xs], ":", color=colour, label=f"ideal ({kind.upper()})")
        local = next((r["fps"] for r in rows if r["path"] == ("local" if kind == "cpu" else "local-gpu")), None)
        if local:
            ax.axhline(local, ls="--", color=colour, alpha=0.5, label=f"one process ({kind.upper()})")
    ax.set_xlabel("actors")
    ax.set_ylabel("output frames/s")
    ax.set_title(f"ffaccel.distributed scaling ({title})", fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


class CpuMeter:
    """CPU seconds (user + system) used by this process and all its descendants inside a ``with`` block:
    the driver, Ray's daemons, its workers and actors (Linux ``/proc``; ``cpu_s`` stays None elsewhere).

    The process tree is read from ``/proc`` at the start, every ``interval`` seconds and at the end;
    each process counts from its first to its last reading, so an actor killed inside the block
    (Ray reaps its workers without adding their time to a parent's) counts up to its last poll.
    The poller thread's own CPU time is subtracted.
    """

    def __init__(self, interval: float = 0.1) -> None:
        self.interval, self.cpu_s = interval, None
        self._tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100

    def _scan(self) -> dict[int, float] | None:
        try:
            stats = {}
            for name in os.listdir("/proc"):
                if name.isdigit():
                    try:
                        with open(f"/proc/{name}/stat") as f:
                            text = f.read()
                    except OSError:  # gone meanwhile
                        continue
                    rest = text[text.rindex(")") + 2:].split()
                    stats[int(name)] = (int(rest[1]), (int(rest[11]) + int(rest[12])) / self._tick)
        except (OSError, ValueError):
            return None
        children: dict[int, list[int]] = {}
        for pid, (ppid, _) in stats.items():
            children.setdefault(ppid, []).append(pid)
        tree, todo = {}, [os.getpid()]
        while todo:
            pid = todo.pop()
            if pid in stats:
                tree[pid] = stats[pid][1]
            todo.extend(children.get(pid, []))
        return tree

    def _poll(self) -> None:
        t0 = time.thread_time()
        while not self._stop.wait(self.interval):
            snap = self._scan() or {}
            self._last.update(snap)
        self._own = time.thread_time() - t0

    def __enter__(self) -> CpuMeter:
        import threading

        self._base = self._scan()
        self._last, self._own = dict(self._base or {}), 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)
        if self._base is not None:
            self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        if self._base is None:
            return
        self._stop.set()
        self._thread.join()
        self._last.update(self._scan() or {})
        self.cpu_s = sum(v - self._base.get(pid, 0.0) for pid, v in self._last.items()) - self._own


def _gpu_count() -> int:
    try:
        import torch

        return int(torch.cuda.device_count())
    except Exception:  # noqa: BLE001
        import cupy

        return int(cupy.cuda.runtime.getDeviceCount())


def _digest(paths: list[Path]) -> str:
    import hashlib

    h = hashlib.sha256()
    for p in paths:
        h.update(p.read_bytes())
    return h.hexdigest()[:16]


def _check(results) -> None:
    bad = [r.error for r in results if not r.ok]
    if bad:
        raise RuntimeError(f"benchmark job failed: {bad}")


if __name__ == "__main__":
    main()
