"""The CPU thread pool on small and large jobs: bare kernel-call time per thread count.

For each thread count (``FFACCEL_NUM_THREADS``, a child process each, since the pool is
sized once per process) it times the one nanobind call of each case (``spec.call``, as
``profile_overhead.py``'s "kernel call" row: no Python checks), numpy arrays, out= given:

- warp_affine of a 1080p uint8 frame into a 64, 128, 256 and 512 px square crop;
- paste_back (alpha) of a 64 px crop into a 256x256 frame and of a 512 px crop into a
  1080p frame, each into a new frame (the frame's copy included);
- paste_back_insightface of a 60-px face into 256x256 and a 300-px face into 1080p (as
  profile_overhead.py's CPU and GPU rows), new frame.

The cases run interleaved, round by round (each case a few calls per round, so every case
spends about the same time per round), and each row is the median of every call: a
busy or shared machine moves all rows alike. Small jobs show the cost of waking the pool's
threads, which grows with the thread count; oversubscribing a small machine (16 threads on
2 cores) exaggerates it. Back-to-back calls keep the pool's threads (and cores) warm;
``--gap-us`` sleeps before each call, as a pipeline's other stages would.

    python benchmarks/bench_pool.py [--threads 1,2,4,8,16] [--rounds 300] [--json pool.json]
        [--sizes 64,128,256,512] [--cases warp,paste] [--gap-us 0]

FFACCEL_POOL_GRAIN_US in the environment reaches every child (kernels/cpu/parallel.h), so
one build can be timed at several grains. The JSON has ``rows_us`` ({"<case>, <n>
threads": us}), the form compare_builds.sh reads.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

import numpy as np

# insightface's face geometry, and this folder's bare_calls (the pool starts at the first
# op call, in each child, so importing ffaccel here sizes nothing)
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bare_calls  # noqa: E402
WARP_SIZES = (64, 128, 256, 512)


def _warp_case(frame: np.ndarray, size: int):
    s = size / 512.0  # the 512 crop's matrix (profile_overhead's GPU case), scaled to the crop
    a, b = 0.45 * s, 0.1 * s
    m = np.array([[a, -b, size / 2 - (a * 960 - b * 540)], [b, a, size / 2 - (b * 960 + a * 540)]])
    return bare_calls.warp(frame, m, (size, size), np.empty((size, size, 3), np.uint8))


def _paste_case(frame: np.ndarray, size: int, m: np.ndarray):
    rng = np.random.default_rng(size)
    crop = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
    mask = rng.random((size, size)).astype(np.float32)
    return bare_calls.paste(frame, crop, mask, m, np.empty_like(frame))


def _insightface_case(frame: np.ndarray, face_px: float):
    """paste_back_insightface's one extension call (as profile_overhead.py's row), new frame."""
    from insightface_reference import face_matrix

    crop = np.random.default_rng(1).integers(0, 256, (128, 128, 3), dtype=np.uint8)
    m = face_matrix((frame.shape[1] / 2, frame.shape[0] / 2), face_px, 20.0)
    return bare_calls.insightface(frame, crop, m, np.empty_like(frame))


def child(rounds: int, only: str | None, sizes: tuple[int, ...], gap_us: float) -> dict[str, float]:
    """Medians (us) of the bare calls in this process, whose pool FFACCEL_NUM_THREADS sized."""
    rng = np.random.default_rng(0)
    hd = rng.integers(0, 256, (1080, 1920, 3), dtype=np.uint8)
    small = rng.integers(0, 256, (256, 256, 3), dtype=np.uint8)
    cases = {f"warp 1080p -> {s}x{s}": _warp_case(hd, s) for s in sizes}
    cases["paste 64 crop -> 256x256 (new frame)"] = _paste_case(
        small, 64, np.array([[1.0, 0.05, -90.0], [-0.05, 1.0, -70.0]]))
    cases["paste 512 crop -> 1080p (new frame)"] = _paste_case(
        hd, 512, np.array([[0.45, -0.1, -400.0], [0.1, 0.45, -150.0]]))
    cases["insightface 60-px face -> 256x256 (new frame)"] = _insightface_case(small, 60.0)
    cases["insightface 300-px face -> 1080p (new frame)"] = _insightface_case(hd, 300.0)
    if only:
        cases = {k: f for k, f in cases.items() if any(w in k for w in only.split(","))}
    pc = time.perf_counter_ns
    reps = {}
    for k, f in cases.items():  # warm up, and size each case's calls per round to ~1 ms
        t = pc()
        for _ in range(20):
            f()
        reps[k] = max(1, min(100 if not gap_us else 5, int(1e6 * 20 / max(pc() - t, 1))))
    samples: dict[str, list[int]] = {k: [] for k in cases}
    for _ in range(rounds):
        for k, f in cases.items():
            for _ in range(reps[k]):
                if gap_us:
                    time.sleep(gap_us * 1e-6)  # the pool's threads fall asleep, as between frames
                t = pc()
                f()
                samples[k].append(pc() - t)
    return {k: statistics.median(v) / 1e3 for k, v in samples.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--threads", default="1,2,4,8,16", help="comma-separated FFACCEL_NUM_THREADS values")
    ap.add_argument("--rounds", type=int, default=300)
    ap.add_argument("--json", default=None)
    ap.add_argument("--sizes", default=",".join(map(str, WARP_SIZES)), help="warp crop sizes (px)")
    ap.add_argument("--gap-us", type=float, default=0.0,
                    help="sleep this long before each call (untimed): cold threads, as in a pipeline whose other "
                         "stages (the model) run between the ops")
    ap.add_argument("--cases", default=None, help="only the cases whose name holds one of these comma-separated words")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(child(args.rounds, args.cases, tuple(int(v) for v in args.sizes.split(",")), args.gap_us)))
        return
    rows: dict[str, float] = {}
    for threads in (int(t) for t in args.threads.split(",")):
        env = dict(os.environ, FFACCEL_NUM_THREADS=str(threads))
        cmd = [sys.executable, __file__, "--child", "--rounds", str(args.rounds), "--sizes", args.sizes,
               "--gap-us", str(args.gap_us)] + (["--cases", args.cases] if args.cases else [])
        r = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
        if r.returncode != 0:
            print(f"{threads} threads: failed\n{r.stderr[-2000:]}")
            continue
        for k, v in json.loads(r.stdout).items():
            rows[f"{k}, {threads} threads"] = v
            print(f"  {k + ',':<40} {threads:>2} threads {v:10.1f} us", flush=True)
    if args.json:
        from ffaccel import _core

        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump({"rows_us": rows, "build": _core.build_info(), "cpus": os.cpu_count(),
                       "grain_us": os.environ.get("FFACCEL_POOL_GRAIN_US")}, fh, indent=1)


if __name__ == "__main__":
    main()
