"""Where the distributed runner's time goes, against the one-process run (issue 18, overhead).

Runs the same demo clips (rendered to raw ``.ffr``) through ``run_local`` (one process, ffaccel
on one thread) and through ``run_jobs`` with one CPU actor, each under :mod:`cProfile`: the
driver's profile in this process, the actor's through the runner's debug option
(``FFACCEL_DISTRIBUTED_PROFILE``, see ``ffaccel.distributed.worker``). Rounds alternate
local and Ray (``--rounds``, the last round's profiles are reported). It prints:

- the thread settings and niceness each side ran with (ffaccel's pool, OpenCV's,
  ``OMP_NUM_THREADS``), so the comparison is known to be fair;
- the Ray run's wall time split into: start-up (``run_jobs`` called -> the actor's first
  segment starts: actor process, imports, ``Pipeline.load``), the actor's busy time in
  pass 1 and pass 2 calls, the hand-over gaps between its calls (result back to the driver,
  next call in; their count and median), and the tail (last call ends -> ``run_jobs``
  returns: the driver's final index/fsync);
- per frame, the steps of both sides from the profiles' cumulative times: reading frames
  (``FfrReader.read_range``: read, checksum, decode), detect, process (warp, swap, paste),
  writing (``FfrWriter.write`` / ``RawLayout.write_frames``), and the output's close (local:
  index and fsync in the loop; Ray: ``RawLayout.finish`` on a driver thread, which cProfile
  does not see: it shows as 0 here and its last one is in the tail);
- the functions whose own time (tottime) per frame differs most between the two.

Profiling costs time itself (both sides alike); the wall times of ``bench_distributed.py``
are the ones to quote, this script says where they go.

    python benchmarks/profile_distributed.py [--clips 2] [--frames 48] [--resolution 1280x720]
        [--crop-size 256] [--segment-frames 12] [--rounds 2] [--worker-niceness 0] [--json out.json]
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import resource
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

#: (step, qualified function names whose cumulative time is the step); the first match per side counts
STEPS = [
    ("read frames (read, checksum, decode)", ["container.py:read_range", "video.py:iter_range"]),
    ("detect", ["pipeline.py:detect"]),
    ("process (warp, swap, mask, paste)", ["pipeline.py:process"]),
    ("write frames", ["container.py:write", "container.py:write_frames"]),
    ("close output (index, fsync, rename)", ["container.py:close", "container.py:finish"]),
    ("stabilise (whole track)", ["pipeline.py:stabilise"]),
]


def _by_function(stats: pstats.Stats) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {}
    for (file, _, name), (_, calls, tottime, cumtime, _) in stats.stats.items():  # type: ignore[attr-defined]
        a = out.setdefault(f"{os.path.basename(file)}:{name}", [0, 0.0, 0.0])
        a[0] += calls
        a[1] += tottime
        a[2] = max(a[2], cumtime)  # recursion-free functions: cumtime of the one entry
    return out


def _step_ms(funcs: dict[str, list[float]], names: list[str], frames: int) -> float:
    return 1e3 * sum(funcs.get(n, [0, 0.0, 0.0])[2] for n in names) / frames


def _settings() -> dict[str, Any]:
    import ffaccel

    try:
        import cv2

        cv2_threads: int | None = cv2.getNumThreads()
    except ImportError:
        cv2_threads = None
    return {"ffaccel_threads": ffaccel.status(frameworks=False).get("cpu_threads"), "cv2_threads": cv2_threads,
            "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS"), "nice": os.nice(0)}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--clips", type=int, default=2)
    ap.add_argument("--frames", type=int, default=48)
    ap.add_argument("--resolution", default="1280x720")
    ap.add_argument("--crop-size", type=int, default=256)
    ap.add_argument("--segment-frames", type=int, default=12)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--worker-niceness", type=int, default=0,
                    help="RAY_worker_niceness for the local cluster (default 0, as run_jobs's own cluster and "
                         "the one-process side; Ray's default: 15)")
    ap.add_argument("--top", type=int, default=15)
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)
    width, height = (int(v) for v in args.resolution.lower().split("x"))
    os.environ["FFACCEL_NUM_THREADS"] = "1"  # both sides: one ffaccel thread (the actor gets it from run_jobs)
    os.environ["RAY_worker_niceness"] = str(args.worker_niceness)
    import ray

    from ffaccel.distributed import DemoPipeline, Job, run_jobs, run_local, write_demo_clips
    from ffaccel.distributed.worker import PROFILE_ENV

    tmp = Path(tempfile.mkdtemp(prefix="ffaccel-prof-dist-"))
    try:
        clips = write_demo_clips(tmp / "in", args.clips, frames=args.frames, width=width, height=height, codec="raw")
        frames = args.clips * args.frames
        ray.init(num_cpus=1, num_gpus=0, include_dashboard=False, configure_logging=False, log_to_driver=False)
        jobs = [Job(c, tmp / f"ray_{k}.ffr") for k, c in enumerate(clips)]
        prof_dir = tmp / "actors"
        os.environ[PROFILE_ENV] = os.fspath(prof_dir)

        def local() -> None:
            for k, c in enumerate(clips):
                run_local(Job(c, tmp / f"local_{k}.ffr"), DemoPipeline(args.crop_size), codec="raw")

        def distributed() -> None:
            res = run_jobs(jobs, DemoPipeline(args.crop_size), workers=1, segment_frames=args.segment_frames,
                           progress=False)
            if not all(r.ok for r in res):
                raise RuntimeError([r.error for r in res])

        local()  # warm: imports and the demo's assets in this process
        walls: dict[str, list[float]] = {"local": [], "ray": []}
        faults: dict[str, list[int]] = {"local": [], "ray": []}
        for _ in range(args.rounds):
            shutil.rmtree(prof_dir, ignore_errors=True)
            profiles = {}
            for name, fn in (("local", local), ("ray", distributed)):
                prof = cProfile.Profile()
                f0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
                t0 = time.time()
                prof.enable()
                fn()
                prof.disable()
                walls[name].append(time.time() - t0)
                faults[name].append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - f0)
                profiles[name] = (prof, t0, t0 + walls[name][-1])
        same = all((tmp / f"local_{k}.ffr").read_bytes() == (tmp / f"ray_{k}.ffr").read_bytes()
                   for k in range(len(clips)))
        (actor_json,) = prof_dir.glob("actor-*.json")
        actor = json.loads(actor_json.read_text())
        ray.shutdown()
        local_f = _by_function(pstats.Stats(profiles["local"][0]))
        driver_f = _by_function(pstats.Stats(profiles["ray"][0]))
        actor_f = _by_function(pstats.Stats(os.fspath(actor_json.with_suffix(".prof"))))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    _, r0, r1 = profiles["ray"]
    calls = sorted(actor["calls"], key=lambda c: c["start"])
    work = [c for c in calls if c["method"] in ("detect", "swap")]
    gaps = [b["start"] - a["stop"] for a, b in zip(work, work[1:])]
    split = {
        "start-up (actor start, imports, load)": work[0]["start"] - r0,
        "actor: pass 1 calls": sum(c["stop"] - c["start"] for c in work if c["method"] == "detect"),
        "actor: pass 2 calls": sum(c["stop"] - c["start"] for c in work if c["method"] == "swap"),
        f"hand-over gaps between calls ({len(gaps)}, median {1e3 * statistics.median(gaps):.2f} ms)": sum(gaps),
        "tail (last call -> return: final index, fsync)": r1 - work[-1]["stop"],
    }
    load = [c["stop"] - c["start"] for c in calls if c["method"] == "load"]
    per_call = {m: [round(c["minor_faults"] / max(c["frames"], 1)) for c in work if c["method"] == m]
                for m in ("detect", "swap")}
    fault_info = {"local_per_frame_both_passes": faults["local"][-1] / frames, "actor_per_frame_by_call": per_call,
                  "actor_cpu_ms_per_frame": 1e3 * sum(c["cpu_s"] for c in work) / frames}
    steps = []
    for step, names in STEPS:
        lo = _step_ms(local_f, names, frames)
        ra = _step_ms(actor_f, names, frames) + _step_ms(driver_f, names, frames)
        steps.append({"step": step, "local_ms_per_frame": lo, "ray_ms_per_frame": ra})
    keys = set(local_f) | set(actor_f)
    diff = sorted(((1e3 * (actor_f.get(k, [0, 0, 0])[1] - local_f.get(k, [0, 0, 0])[1]) / frames, k) for k in keys),
                  key=lambda t: -abs(t[0]))[:args.top]
    result = {
        "benchmark": "profile_distributed", "config": vars(args), "frames": frames, "loadavg": os.getloadavg(),
        "walls_s": walls, "same_bytes": same, "settings": {"local": _settings(),
                                                          "actor": {k: actor.get(k) for k in
                                                                    ("ffaccel_threads", "cv2_threads", "env",
                                                                     "nice")}},
        "ray_split_s": split, "actor_load_s": load, "faults": fault_info, "steps_ms_per_frame": steps,
        "tottime_diff_ms_per_frame": [{"function": k, "actor_minus_local": d} for d, k in diff],
    }
    print(f"{args.clips} clips x {args.frames} frames at {args.resolution}, crop {args.crop_size}, segments of "
          f"{args.segment_frames}; load average {result['loadavg'][0]:.1f}; same bytes: {same}")
    print("walls (s): " + "; ".join(f"{k} {', '.join(f'{w:.2f}' for w in v)}" for k, v in walls.items()))
    print("settings:", json.dumps(result["settings"]))
    print(f"\nRay run, last round, {r1 - r0:.2f} s:")
    for k, v in split.items():
        print(f"  {k:62s} {v:7.3f} s")
    print(f"  (of which Pipeline.load in the actor: {sum(load):.3f} s)")
    print(f"minor page faults a frame: local {fault_info['local_per_frame_both_passes']:.0f} (both passes); actor, "
          f"call by call: pass 1 {per_call['detect']}, pass 2 {per_call['swap']}")
    print(f"\nper frame (ms), from the profiles' cumulative times:\n  {'step':42s} {'local':>8s} {'ray':>8s}")
    for s in steps:
        print(f"  {s['step']:42s} {s['local_ms_per_frame']:8.2f} {s['ray_ms_per_frame']:8.2f}")
    print("\nown time per frame, actor minus local (ms):")
    for d, k in diff:
        print(f"  {k[:70]:70s} {d:+8.3f}")
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1))
    return result


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
