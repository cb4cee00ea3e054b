"""Where the per-call time of a GPU warp goes: host-side cost per call, cProfile
breakdown, and CPU-path thread scaling. A diagnostic for developers, not a benchmark.

    python benchmarks/profile_overhead.py
"""

from __future__ import annotations

import cProfile
import os
import pstats
import subprocess
import sys
import time

import numpy as np

import ffaccel


def host_us(fn, n=2000):
    for _ in range(50):
        fn()
    t0 = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - t0) / n * 1e6


def main() -> None:
    import torch

    frame = torch.zeros((1080, 1920, 3), dtype=torch.uint8, device="cuda")
    out = torch.empty((512, 512, 3), dtype=torch.uint8, device="cuda")
    m = np.array([[0.45, -0.1, -400.0], [0.1, 0.45, -150.0]])
    call = lambda: ffaccel.warp_affine(frame, m, (512, 512), out=out)  # noqa: E731
    print(f"host time per warp_affine call (torch, out=): {host_us(call):.1f} us")
    print(f"  torch.cuda.current_stream(0):  {host_us(lambda: torch.cuda.current_stream(0)):.2f} us")
    print(f"  torch.empty 512x512x3:        {host_us(lambda: torch.empty((512, 512, 3), dtype=torch.uint8, device='cuda')):.2f} us")
    print(f"  a no-op torch kernel (add_):  {host_us(lambda: out.add_(0)):.2f} us")
    torch.cuda.synchronize()
    prof = cProfile.Profile()
    prof.enable()
    for _ in range(3000):
        call()
    prof.disable()
    torch.cuda.synchronize()
    pstats.Stats(prof).sort_stats("tottime").print_stats(18)
    frame_np = np.random.default_rng(0).integers(0, 256, (1080, 1920, 3), dtype=np.uint8)
    code = ("import numpy as np, time, ffaccel; f=np.random.default_rng(0).integers(0,256,(1080,1920,3),dtype=np.uint8);"
            "m=np.array([[0.45,-0.1,-400.0],[0.1,0.45,-150.0]]); [ffaccel.warp_affine(f,m,(512,512)) for _ in range(5)];"
            "t=time.perf_counter(); [ffaccel.warp_affine(f,m,(512,512)) for _ in range(40)];"
            "print(round((time.perf_counter()-t)/40*1e3,3))")
    for threads in (1, 2, 4, 8, 16):
        env = dict(os.environ, FFACCEL_NUM_THREADS=str(threads))
        r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
        print(f"cpu path, {threads:>2} threads: {r.stdout.strip()} ms per 512 crop {r.stderr.strip()[-200:]}")
    del frame_np


if __name__ == "__main__":
    main()
