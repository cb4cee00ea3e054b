"""Memory check: N calls of every public op (default 1e5), resident memory must stay flat.

Usage:
    python benchmarks/memory_check.py [--calls 100000] [--gpu cupy|torch]

For each op: 1,000 warm-up calls, then N calls; it prints the process RSS before and
after (and, with --gpu, the framework's allocated device bytes). A growth above
--limit-mib (default 8 MiB) is reported as a leak and the exit status is 1. The op
table is tests/test_hostile.py's (small inputs, every op with and without ``out``), plus
``paste_back_insightface`` with the installed cv2's generation and the prepared calls
(``MORE_OUT_OPS`` below).
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from test_hostile import CROP, FRAME, M_IF, MASK, NO_OUT_OPS, OUT_OPS  # noqa: E402

# The forms test_hostile's table leaves out: the insightface paste with compat="insightface"
# (the installed cv2's generation) and the prepared calls (each prepared once, on the arrays
# it is then called with). name -> (inputs, call(inputs, out) -> result, out shape, out
# dtype), as OUT_OPS.


def _planned(op_name: str, call_args, extra: tuple = ()):
    """call(inputs, out) through ``ffaccel.prepare(op, *call_args(inputs), *extra, out=out)``,
    prepared on the first call of each form (with and without ``out``; each form has its
    own ``out`` and inputs)."""
    plans: dict[bool, object] = {}

    def call(a: dict, out: object) -> object:
        import ffaccel

        if (out is None) not in plans:
            plans[out is None] = ffaccel.prepare(getattr(ffaccel, op_name), *call_args(a), *extra, out=out)
        return plans[out is None](*call_args(a), out=out)
    return call


def _insightface(a: dict, out: object) -> object:
    import ffaccel

    return ffaccel.paste_back_insightface(a["frame"], a["crop"], M_IF, out=out)


MORE_OUT_OPS = {
    "paste_back_insightface_installed_cv2": ({"frame": FRAME, "crop": CROP}, _insightface, FRAME.shape, np.uint8),
    "WarpPlan": ({"frame": FRAME}, _planned("warp_affine", lambda a: (a["frame"], M_IF), ((12, 12),)),
                 (12, 12, 3), np.uint8),
    "PastePlan": ({"frame": FRAME, "crop": CROP, "mask": MASK},
                  _planned("paste_back", lambda a: (a["frame"], a["crop"], a["mask"], M_IF)), FRAME.shape, np.uint8),
    "FeatherPlan": ({"mask": MASK}, _planned("feather_mask", lambda a: (a["mask"],), (1.5,)), MASK.shape, np.float32),
    "InsightfacePlan": ({"frame": FRAME, "crop": CROP},
                        _planned("paste_back_insightface", lambda a: (a["frame"], a["crop"], M_IF)), FRAME.shape,
                        np.uint8),
}


def rss_mib() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2 ** 20


def device_bytes(fw: str | None) -> int:
    if fw == "cupy":
        import cupy

        cupy.cuda.get_current_stream().synchronize()
        return int(cupy.get_default_memory_pool().used_bytes())
    if fw == "torch":
        import torch

        torch.cuda.synchronize()
        return int(torch.cuda.memory_allocated())
    return 0


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--calls", type=int, default=100_000)
    ap.add_argument("--gpu", choices=["cupy", "torch"])
    ap.add_argument("--limit-mib", type=float, default=8.0)
    ap.add_argument("--only", default="", help="comma-separated names or name parts: check only the ops that match")
    a = ap.parse_args()
    conv = (lambda x: x)
    if a.gpu:
        sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
        from gpu import to_gpu

        conv = (lambda x: to_gpu(x, a.gpu))
    jobs = []
    for op, (inputs, call, shape, dtype) in {**OUT_OPS, **MORE_OUT_OPS}.items():
        ins = {k: conv(v) for k, v in inputs.items()}
        out = conv(np.zeros(shape, dtype))
        jobs.append((op + "(out=)", lambda ins=ins, call=call, out=out: call(ins, out)))
        jobs.append((op, lambda ins=ins, call=call: call(ins, None)))
    for op, (inputs, call) in NO_OUT_OPS.items():
        ins = {k: conv(v) for k, v in inputs.items()}
        if a.gpu and not inputs:
            continue  # no array input: nothing runs on the GPU
        jobs.append((op, lambda ins=ins, call=call: call(ins)))
    if a.only:  # a part that is an op's whole name takes that op alone; any other part, every name containing it
        names = {name for name, _ in jobs}
        parts = a.only.split(",")
        jobs = [(name, fn) for name, fn in jobs
                if any(name == part if part in names else part in name for part in parts)]
    leaks = 0
    print(f"{'op':34s} {'calls':>7s} {'RSS before':>11s} {'after':>9s} {'growth':>8s} {'dev growth':>11s} {'s':>6s}")
    for name, fn in jobs:
        try:
            fn()
        except (TypeError, ValueError) as e:  # on the GPU: an op that takes host arrays only
            if not a.gpu:
                raise
            print(f"{name:34s} not run on this device: {e}")
            continue
        for _ in range(1000):
            fn()
        gc.collect()
        r0, d0, t0 = rss_mib(), device_bytes(a.gpu), time.perf_counter()
        shown = t0
        for k in range(a.calls):
            fn()
            if k & 255 == 0 and time.perf_counter() - shown >= 10:  # slow ops: a line every 10 s
                shown = time.perf_counter()
                # RSS and device growth so far too: a run stopped by a time cap still says how far it stayed flat
                print(f"  {name}: {k}/{a.calls} calls, {shown - t0:.0f} s, RSS {rss_mib() - r0:+.2f} MiB, "
                      f"device {(device_bytes(a.gpu) - d0) / 2**20:+.2f} MiB", file=sys.stderr, flush=True)
        gc.collect()
        r1, d1 = rss_mib(), device_bytes(a.gpu)
        grew = r1 - r0
        bad = grew > a.limit_mib or (d1 - d0) > a.limit_mib * 2 ** 20
        leaks += bad
        print(f"{name:34s} {a.calls:7d} {r0:9.1f}MiB {r1:7.1f}MiB {grew:+7.2f}M {(d1 - d0) / 2**20:+10.2f}M "
              f"{time.perf_counter() - t0:6.1f}{'  LEAK' if bad else ''}", flush=True)
    print(f"{leaks} ops grew by more than {a.limit_mib} MiB")
    return 1 if leaks else 0


if __name__ == "__main__":
    sys.exit(main())
