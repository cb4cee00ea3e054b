"""Benchmark: ffaccel.distributed frames/s at 1, 2, 4 CPU workers (and 1 GPU), efficiency, overhead.

All rows in one run, on the same clips (demo clips rendered to .ffr, the demo pipeline with
its stand-in swap):

  local     run_local: the single-process pipeline, one job after the other, same reading,
            detection, whole-video stabilisation, swap and lossless writing; ffaccel's CPU
            kernels on one thread (FFACCEL_NUM_THREADS=1), as in each worker.
  local-mt  the same with ffaccel's default thread count (all cores), for reference.
  ray-cpu   run_jobs with W CPU actors (one CPU and one ffaccel thread each), W in --widths.
  local-gpu, ray-gpu   with a GPU: the same with device="cuda", 1 actor on the GPU, and 2
            actors sharing it (num_gpus=0.5).

frames/s = output frames / wall seconds of the whole call (actor start-up, both passes,
segment writes and the join included; Ray's own start-up is not: the cluster is started
once before). Each row is the median of --repeats runs. efficiency(W) = fps(W) / (W *
fps(1 worker)); overhead = 1 - fps(1 worker) / fps(local). Per-frame cost = 1 / fps of
one worker, the figure the cost sketch in docs/distributed.md uses.

    python benchmarks/bench_distributed.py [--clips 4] [--frames 48] [--resolution 1280x720]
        [--crop-size 256] [--widths 1,2,4] [--repeats 3] [--json out.json]
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
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                              cwd=os.path.dirname(__file__), check=True).stdout.strip()
    except Exception:  # noqa: BLE001
        return "unknown"


def _median_fps(fn, frames: int, repeats: int) -> tuple[float, list[float]]:
    walls = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        walls.append(time.perf_counter() - t0)
    return frames / statistics.median(walls), walls


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--clips", type=int, default=4)
    ap.add_argument("--frames", type=int, default=48)
    ap.add_argument("--resolution", default="1280x720")
    ap.add_argument("--crop-size", type=int, default=256)
    ap.add_argument("--segment-frames", type=int, default=12)
    ap.add_argument("--widths", default="1,2,4")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--codec", default="raw", choices=["zlib", "raw"])
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)
    width, height = (int(v) for v in args.resolution.lower().split("x"))
    widths = [int(w) for w in args.widths.split(",")]

    os.environ["FFACCEL_NUM_THREADS"] = "1"  # before ffaccel's thread pool exists; local-mt resets it below
    import ray

    from ffaccel.demo.pipeline import cuda_backend
    from ffaccel.distributed import DemoPipeline, Job, run_jobs, run_local, write_demo_clips

    tmp = Path(tempfile.mkdtemp(prefix="ffaccel-bench-dist-"))
    try:
        clips = write_demo_clips(tmp / "in", args.clips, frames=args.frames, width=width, height=height,
                                 codec=args.codec)
        total = args.clips * args.frames
        rows = []

        def local(device: str) -> None:
            for k, c in enumerate(clips):
                run_local(Job(c, tmp / f"local_{k}.ffr"), DemoPipeline(args.crop_size, device=device), codec=args.codec)

        fps, walls = _median_fps(lambda: local("cpu"), total, args.repeats)
        rows.append({"path": "local", "workers": 1, "fps": fps, "walls_s": walls})
        # the same process with all of ffaccel's threads: a child process, as the pool reads the variable once
        env = dict(os.environ)
        env.pop("FFACCEL_NUM_THREADS")
        code = (f"import sys,time,statistics;sys.path.insert(0,{os.path.dirname(__file__)!r});"
                f"from pathlib import Path;from ffaccel.distributed import *;"
                f"cl=[Path(p) for p in {[str(c) for c in clips]!r}];w=[]\n"
                f"for _ in range({args.repeats}):\n"
                f" t=time.perf_counter()\n"
                f" for k,c in enumerate(cl): run_local(Job(c, Path({str(tmp)!r})/f'mt_{{k}}.ffr'), "
                f"DemoPipeline({args.crop_size}), codec={args.codec!r})\n"
                f" w.append(time.perf_counter()-t)\n"
                f"print(repr(w))")
        out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
        walls = eval(out.stdout.strip().splitlines()[-1])  # noqa: S307 - our own child's list of floats
        rows.append({"path": "local-mt", "workers": 1, "fps": total / statistics.median(walls), "walls_s": walls})

        backend, gpu_reason = cuda_backend()
        gpus = 1 if backend is not None else 0
        ray.init(num_cpus=max(widths), num_gpus=gpus, include_dashboard=False, configure_logging=False,
                 log_to_driver=False)
        jobs = [Job(c, tmp / f"ray_{k}.ffr") for k, c in enumerate(clips)]
        for w in widths:
            fps, walls = _median_fps(lambda w=w: _check(run_jobs(jobs, DemoPipeline(args.crop_size), workers=w,
                                                                 gpus=False, segment_frames=args.segment_frames,
                                                                 codec=args.codec, progress=False)),
                                     total, args.repeats)
            rows.append({"path": "ray-cpu", "workers": w, "fps": fps, "walls_s": walls})
        if gpus:
            fps, walls = _median_fps(lambda: local("cuda"), total, args.repeats)
            rows.append({"path": "local-gpu", "workers": 1, "fps": fps, "walls_s": walls})
            for n, frac in ((1, 1.0), (2, 0.5)):
                fps, walls = _median_fps(lambda n=n, frac=frac: _check(run_jobs(
                    jobs, DemoPipeline(args.crop_size, device="cuda"), workers=n, gpus=True, gpu_fraction=frac,
                    segment_frames=args.segment_frames, codec=args.codec, progress=False)), total, args.repeats)
                rows.append({"path": "ray-gpu", "workers": n, "fps": fps, "walls_s": walls, "gpu_fraction": frac})
        ray.shutdown()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    base = {r["path"]: r["fps"] for r in rows if r["workers"] == 1}
    for r in rows:
        if r["path"] in ("ray-cpu", "ray-gpu"):
            one = base[r["path"]]
            r["efficiency"] = r["fps"] / (r["workers"] * one)
        if r["path"] == "ray-cpu" and r["workers"] == 1:
            r["overhead_vs_local"] = 1.0 - r["fps"] / base["local"]
        if r["path"] == "ray-gpu" and r["workers"] == 1:
            r["overhead_vs_local"] = 1.0 - r["fps"] / base["local-gpu"]
        r["ms_per_frame"] = 1e3 / r["fps"]
    result = {"benchmark": "distributed", "commit": _commit(), "machine": _timing.machine(),
              "config": vars(args) | {"frames_total": args.clips * args.frames},
              "gpu": gpu_reason or "1 GPU", "rows": rows}
    _timing.print_table(f"ffaccel.distributed, {args.clips} clips x {args.frames} frames at {args.resolution}, "
                        f"crop {args.crop_size}, commit {result['commit']}", rows,
                        ["path", "workers", "fps", "ms_per_frame", "efficiency", "overhead_vs_local"])
    if args.json:
        _timing.save_json(args.json, result)
    return result


def _check(results) -> None:
    bad = [r.error for r in results if not r.ok]
    if bad:
        raise RuntimeError(f"benchmark job failed: {bad}")


if __name__ == "__main__":
    main()
