"""Benchmark: insightface's INSwapper paste-back, stock against ffaccel, in one run.

Timed side by side, each call producing a new output frame (as stock does):
  CPU: insightface 2.1's paste block of INSwapper.get, verbatim (tests/insightface_reference
       .stock_paste, checked against the real get() in tests/integrations/test_integration_insightface.py;
       it includes the fake_diff work stock computes and throws away), against
       ffaccel.paste_back_insightface(compat="insightface") (exact: the same bytes, checked
       here too), new frame and in place;
  GPU: ffaccel.paste_back_insightface on torch CUDA tensors into a preallocated output:
       CUDA-event medians around each Python call (host work included: the call never
       synchronises; the mask extent is computed on the host from M), the same for a
       prepared call (ffaccel.prepare's InsightfacePlan), the prepared call's time per call
       in a loop of --runs calls back to back between two events (host and device
       overlap there, as in a live pipeline), and the device time
       per call with 20 calls captured in one CUDA graph and replayed; in the same way the
       floor under a new frame: the paste in place, and torch's copy of the frame alone.

Faces: a 128-px crop whose footprint is 300 px at 1080p and 600 px at 4K, rotated 20°.

    python benchmarks/bench_insightface.py [--cpu-runs 15] [--stock-runs 5] [--runs 200] [--json out.json]

On a shared, loaded machine wall-clock medians swing with the other processes. For a
steadier comparison, time the CPU time of one thread on both sides:

    FFACCEL_NUM_THREADS=1 python benchmarks/bench_insightface.py --thread-time --json out.json
"""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests"))  # the peer the tests verify
import _timing  # noqa: E402
from insightface_reference import face_matrix, stock_paste  # noqa: E402

import ffaccel  # noqa: E402

SIZES = [("1080p", 1080, 1920, 300.0), ("4K", 2160, 3840, 600.0)]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cpu-runs", type=int, default=15)
    ap.add_argument("--stock-runs", type=int, default=5)
    ap.add_argument("--runs", type=int, default=200)
    ap.add_argument("--gpu-only", action="store_true")
    ap.add_argument("--thread-time", action="store_true",
                    help="CPU time of the calling thread, one thread on both sides (needs FFACCEL_NUM_THREADS=1)")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    import cv2

    cpu_ms = _timing.cpu_median_ms
    if args.thread_time:
        if os.environ.get("FFACCEL_NUM_THREADS") != "1":
            ap.error("--thread-time needs FFACCEL_NUM_THREADS=1 in the environment (one thread on both sides)")
        cv2.setNumThreads(1)
        cpu_ms = _thread_median_ms
    else:
        cv2.setNumThreads(os.cpu_count() or 1)
    rows = []
    rng = np.random.default_rng(0)
    for name, h, w, size in SIZES:
        frame = rng.integers(0, 256, (h, w, 3), np.uint8)
        m = face_matrix((w * 0.5, h * 0.5), size, 20.0)
        aimg = cv2.warpAffine(frame, m, (128, 128), borderValue=0.0)
        bgr_fake = np.ascontiguousarray(rng.integers(0, 256, (128, 128, 3), np.uint8)[:, :, ::-1])
        if not args.gpu_only:
            stock = cpu_ms(lambda: stock_paste(frame, bgr_fake, aimg, m), args.stock_runs, warmup=1)
            ours = cpu_ms(lambda: ffaccel.paste_back_insightface(frame, bgr_fake, m), args.cpu_runs)
            work = frame.copy()
            inplace = cpu_ms(
                lambda: ffaccel.paste_back_insightface(work, bgr_fake, m, inplace=True), args.cpu_runs)
            same = bool(np.array_equal(ffaccel.paste_back_insightface(frame, bgr_fake, m),
                                       stock_paste(frame, bgr_fake, aimg, m)))
            rows.append({"path": "cpu", "frame": name, "impl": "insightface stock paste (numpy+cv2)",
                         "median_ms": stock, "ratio": 1.0, "exact": True})
            rows.append({"path": "cpu", "frame": name, "impl": "ffaccel paste_back_insightface (new frame)",
                         "median_ms": ours, "ratio": stock / ours, "exact": same})
            rows.append({"path": "cpu", "frame": name, "impl": "ffaccel paste_back_insightface (in place)",
                         "median_ms": inplace, "ratio": stock / inplace, "exact": same})
        torch = _timing.cuda_torch()
        gpu = torch is not None
        if gpu:
            g = torch.from_numpy(frame).cuda()
            gout = torch.empty_like(g)
            gc = torch.from_numpy(bgr_fake).cuda()
            t = _timing.cuda_median_ms(lambda: ffaccel.paste_back_insightface(g, gc, m, out=gout), args.runs)
            same = bool(np.array_equal(gout.cpu().numpy(), ffaccel.paste_back_insightface(frame, bgr_fake, m)))
            rows.append({"path": "gpu", "frame": name, "impl": "ffaccel paste_back_insightface (out=)",
                         "median_ms": t, "ratio": None, "exact": same})
            plan = ffaccel.prepare(ffaccel.paste_back_insightface, g, gc, m, out=gout)
            tp = _timing.cuda_median_ms(lambda: plan(g, gc, m, out=gout), args.runs)
            same = bool(np.array_equal(gout.cpu().numpy(), ffaccel.paste_back_insightface(frame, bgr_fake, m)))
            rows.append({"path": "gpu", "frame": name, "impl": "ffaccel InsightfacePlan (out=, prepared)",
                         "median_ms": tp, "ratio": None, "exact": same})
            # a loop of calls, as a live pipeline makes them: host and device overlap
            tl = _timing.cuda_pipelined_ms(lambda: plan(g, gc, m, out=gout), args.runs)
            rows.append({"path": "gpu", "frame": name,
                         "impl": f"ffaccel InsightfacePlan (out=, prepared, {args.runs} back to back)",
                         "median_ms": tl, "ratio": None, "exact": None})
            tg = _timing.cuda_graph_per_call_ms(lambda: ffaccel.paste_back_insightface(g, gc, m, out=gout))
            same = bool(np.array_equal(gout.cpu().numpy(), ffaccel.paste_back_insightface(frame, bgr_fake, m)))
            rows.append({"path": "gpu", "frame": name, "impl": "ffaccel paste_back_insightface (out=, CUDA graph)",
                         "median_ms": tg, "ratio": None, "exact": same})
            # The floor under a new frame: the paste in place (no frame copy), and the copy alone.
            gin = g.clone()
            ti = _timing.cuda_graph_per_call_ms(lambda: ffaccel.paste_back_insightface(gin, gc, m, inplace=True))
            gin.copy_(g)
            ffaccel.paste_back_insightface(gin, gc, m, inplace=True)
            same = bool(np.array_equal(gin.cpu().numpy(), ffaccel.paste_back_insightface(frame, bgr_fake, m)))
            rows.append({"path": "gpu", "frame": name, "impl": "ffaccel paste_back_insightface (in place, CUDA graph)",
                         "median_ms": ti, "ratio": None, "exact": same})
            tc = _timing.cuda_graph_per_call_ms(lambda: gout.copy_(g))
            rows.append({"path": "gpu", "frame": name, "impl": "torch frame copy alone (Tensor.copy_, CUDA graph)",
                         "median_ms": tc, "ratio": None, "exact": None})
    if not rows:
        print("nothing timed: --gpu-only needs torch with a CUDA device", file=sys.stderr)
        return 1
    for r in rows:
        r["median_ms"] = round(r["median_ms"], 4)
        if r["ratio"] is not None:
            r["ratio"] = round(r["ratio"], 1)
    clock = "thread CPU time, 1 thread" if args.thread_time else "wall clock"
    _timing.print_table(f"insightface paste-back (cv2 {cv2.__version__}, {clock}; ratio = stock / ffaccel)", rows,
                        ["path", "frame", "impl", "median_ms", "ratio", "exact"])
    _timing.save_json(args.json, {"benchmark": "insightface", "opencv": cv2.__version__,
                                  "clock": "thread CPU time, 1 thread" if args.thread_time else "wall, all threads",
                                  "machine": _timing.machine(), "rows": rows})
    return 0


def _thread_median_ms(fn, runs: int, warmup: int = 5) -> float:
    import statistics
    import time

    for _ in range(warmup):
        fn()
    times = []
    for _ in range(runs):
        t0 = time.thread_time()
        fn()
        times.append((time.thread_time() - t0) * 1e3)
    return statistics.median(times)


if __name__ == "__main__":
    sys.exit(main())
