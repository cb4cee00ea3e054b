"""Where the host time of one warp_affine (paste_back, paste_back_insightface) call goes, stage by stage (issue 17, section 1).

For each array kind available (numpy always; torch CUDA tensors on a GPU machine) it
times, per call, with ``time.perf_counter_ns`` around every single call and the median
over many calls (robust on a busy machine):

- the stages of the full checks: array-kind detection and pointer/stride reads
  (``_arrays.view``), the image checks, the matrix checks, the matrix rules and
  inversion (in C++), the output checks (shape, dtype, writeability, overlap), the
  stream lookup (public API and the raw getter), and the kernel call itself: the one
  nanobind call (``_core.WarpCall``) that takes pointers, matrix and stream, tests the
  overlap, checks and inverts the matrix, and runs the CPU pixel work or the CUDA launch;
- the lean path's pieces: the signature key, the spec lookup, the pointer reads;
- whole calls: the full checks + kernel (the path of a call with a new signature), the
  cached plain call, and a prepared call (``ffaccel.prepare``).

For paste_back (a 64x64 crop into a 256x256 frame on the CPU path) it times the kernel
call (``_core.PasteCall``) and the three whole calls the same way; for
paste_back_insightface (a 60-px face in a 256x256 frame on the CPU, a 300-px face in a
1080p frame on the GPU) the full checks' pieces, the lean path's pieces, the kernel call
(``_core.InsightfaceCall``) and the three whole calls. GPU calls are synchronised every
20 rounds, outside the timed calls, so the device's queue never fills.

The CPU-path goal of issue 17 (per-call overhead of a 64x64 warp <= 5 us on top of the
pixel work) is computed from the same run and printed PASS/FAIL: the overhead is a whole
call's time less the kernel call's, both medians of the same interleaved run. On a GPU
the crop is 512x512 from a 1080p frame, as in issue 17's table.

Last, the CPU path's 1080p -> 512 warp with 1, 2, 4, 8 and 16 threads (``--no-threads``
skips it).

    python benchmarks/profile_overhead.py [--calls 20000] [--json overhead.json] [--no-threads]
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import statistics
import subprocess
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests"))  # insightface's face geometry
import _timing  # noqa: E402
import bare_calls  # noqa: E402
from insightface_reference import face_matrix  # noqa: E402

import ffaccel  # noqa: E402
from ffaccel import _arrays, _checks, _fast  # noqa: E402
# the module, not ffaccel.ops.warp_affine, which the package binds to the function
_warp = importlib.import_module("ffaccel.ops.warp_affine")
_paste = importlib.import_module("ffaccel.ops.paste_back")
_ins = importlib.import_module("ffaccel.ops.paste_insightface")

CPU_GOAL_US = 5.0
KERNEL = "kernel call (one nanobind call: overlap, matrix, pixel work / launch)"
FULL = "call: full checks + kernel (new signature)"
PLAIN = "call: plain op (cached spec)"
PREPARED = "call: prepared"


def per_call_us(fns: dict[str, object], calls: int, sync=None, sync_every: int = 0) -> dict[str, float]:
    """Median host time per call of each function, interleaved call by call. With
    ``sync_every``, ``sync()`` runs (untimed) every that many rounds, so that the device's
    queue never fills and a call's host time is never a wait for the device."""
    pc = time.perf_counter_ns
    samples: dict[str, list[int]] = {k: [] for k in fns}
    items = list(fns.items())
    warm = max(calls // 20, 50)
    for i in range(calls + warm):
        if sync_every and i % sync_every == 0:
            sync()
        for k, f in items:
            t = pc()
            f()
            dt = pc() - t
            if i >= warm:
                samples[k].append(dt)
    return {k: statistics.median(v) / 1e3 for k, v in samples.items()}


def stages(src, out, m, dsize, calls: int, sync) -> dict[str, float]:
    allowed = _warp._ALLOWED
    view = _arrays.view(src, "src")
    mats = _checks.matrices(m, "matrix", False)
    spec = _warp.check(src, m, dsize, "replicate", 0, None, out, False)[0]
    key = _warp._key(src, m, dsize, "replicate", 0, None, out, False)
    prepared = ffaccel.prepare(ffaccel.warp_affine, src, m, dsize, out=out)

    def full_path():
        spec_, m_, _, sp_, op_ = _warp.check(src, m, dsize, "replicate", 0, None, out, False)
        spec_.launch(sp_, op_, m_)

    fns = {
        "array kind + pointer/stride reads (_arrays.view)": lambda: _arrays.view(src, "src"),
        "image checks (_checks.image)": lambda: _checks.image(src, "src", allowed),
        "matrix checks (_checks.matrices)": lambda: _checks.matrices(m, "matrix", False),
        "matrix rules + inversion in C++ (_checks.affine_inverse)": lambda: _checks.affine_inverse(mats, "matrix"),
        "output checks (_checks.output)": lambda: _checks.output(out, view, tuple(out.shape), view.dtype,
                                                                 inputs=[("src", view)]),
        "stream lookup, public API": lambda: _arrays.current_stream(view),
        "stream lookup, cached reader": spec.stream,
        KERNEL: bare_calls.warp(src, m, dsize, out),
        "lean: signature key": lambda: _warp._key(src, m, dsize, "replicate", 0, None, out, False),
        "lean: spec lookup": lambda: _fast.lookup(key),
        "lean: pointer read": lambda: _fast.ptr(src),
        FULL: full_path,
        PLAIN: lambda: ffaccel.warp_affine(src, m, dsize, out=out),
        PREPARED: lambda: prepared(src, m, out=out),
    }
    result = per_call_us(fns, calls)
    sync()
    return result


def paste_stages(frame, crop, mask, out, m, calls: int, sync) -> dict[str, float]:
    """The same for paste_back (out= given): the one kernel call and the three whole calls."""
    prepared = ffaccel.prepare(ffaccel.paste_back, frame, crop, mask, m, out=out)

    def full_path():
        spec_, m_, _, ptrs_ = _paste.check(frame, crop, mask, m, None, False, out, False)
        spec_.launch(*ptrs_, m_)

    fns = {
        KERNEL: bare_calls.paste(frame, crop, mask, m, out),
        FULL: full_path,
        PLAIN: lambda: ffaccel.paste_back(frame, crop, mask, m, out=out),
        PREPARED: lambda: prepared(frame, crop, mask, m, out=out),
    }
    result = per_call_us(fns, calls)
    sync()
    return result


def insightface_stages(frame, crop, m, out, calls: int, sync) -> dict[str, float]:
    """paste_back_insightface's host time (out= given), stage by stage: the pieces of the
    full checks, the lean path's pieces (workspace size and allocation), the one extension
    call (overlap, matrix rules, host extent, then the launches or the CPU work), and the
    whole calls: full checks, plain (cached spec) and prepared."""
    compat = "insightface-opencv5"
    warp, blur = _ins._MODES[compat]
    fv = _arrays.view(frame, "frame")
    f = _checks.image(frame, "frame", _ins._FRAME)
    cv = _arrays.view(crop, "crop")
    spec = _ins.check(frame, crop, m, False, out)[0]
    floats = spec.call.workspace_floats(m)
    make_ws = _ins._workspace_maker(fv.kind, fv.device)
    prepared = ffaccel.prepare(ffaccel.paste_back_insightface, frame, crop, m, compat=compat, out=out)

    def full_path():
        launch = _ins.check(frame, crop, m, False, out)[2]
        launch(warp, blur)

    fns = {
        "compat mode (_modes)": lambda: _ins._modes(compat),
        "frame: kind + pointer/stride reads (_arrays.view)": lambda: _arrays.view(frame, "frame"),
        "frame: image checks (_checks.image)": lambda: _checks.image(frame, "frame", _ins._FRAME),
        "matrix checks + inversion (matrices, affine_inverse)":
            lambda: _checks.affine_inverse(_checks.matrices(m, "matrix", batched=False), "matrix"),
        "output checks (_checks.output)": lambda: _checks.output(out, fv, (f.h, f.w, 3), np.dtype(np.uint8),
                                                                 inputs=[("frame", fv), ("crop", cv)]),
        "lean: signature key": lambda: _ins._key(frame, crop, False, out),
        "lean: workspace size + matrix rules (InsightfaceCall.workspace_floats)": lambda: spec.call.workspace_floats(m),
        "lean: workspace allocation": lambda: make_ws(floats),
        "lean: stream lookup, cached reader": spec.stream,
        KERNEL: bare_calls.insightface(frame, crop, m, out, compat),
        FULL: full_path,
        PLAIN: lambda: ffaccel.paste_back_insightface(frame, crop, m, compat=compat, out=out),
        PREPARED: lambda: prepared(frame, crop, m, out=out),
    }
    result = per_call_us(fns, calls, sync, sync_every=20)
    sync()
    return result


def overheads(st: dict[str, float]) -> dict[str, float]:
    """Host time of each whole call on top of the kernel call (the pixel work or launch)."""
    return {"plain": st[PLAIN] - st[KERNEL], "prepared": st[PREPARED] - st[KERNEL],
            "full checks": st[FULL] - st[KERNEL]}


def cpu_cases(calls: int) -> tuple[dict[str, float], dict[str, float]]:
    """Stages of the CPU path: a 64x64x3 uint8 warp, and a 64x64 crop pasted into a 256x256
    frame (both with out= given)."""
    rng = np.random.default_rng(0)
    m = np.array([[0.9, 0.1, 2.0], [-0.1, 0.9, 3.0]])
    src = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)
    out = np.empty((64, 64, 3), np.uint8)
    warp = stages(src, out, m, (64, 64), calls, lambda: None)
    frame = rng.integers(0, 256, (256, 256, 3), dtype=np.uint8)
    crop = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)
    mask = rng.random((64, 64)).astype(np.float32)
    pm = np.array([[1.0, 0.05, -90.0], [-0.05, 1.0, -70.0]])
    paste = paste_stages(frame, crop, mask, np.empty_like(frame), pm, calls, lambda: None)
    return warp, paste


def thread_scaling() -> dict[int, float]:
    """CPU path, 1080p -> 512 crop, per thread count (FFACCEL_NUM_THREADS, a subprocess each)."""
    code = ("import numpy as np, time, ffaccel; f=np.random.default_rng(0).integers(0,256,(1080,1920,3),dtype=np.uint8);"
            "m=np.array([[0.45,-0.1,-400.0],[0.1,0.45,-150.0]]); [ffaccel.warp_affine(f,m,(512,512)) for _ in range(5)];"
            "t=time.perf_counter(); [ffaccel.warp_affine(f,m,(512,512)) for _ in range(40)];"
            "print(round((time.perf_counter()-t)/40*1e3,3))")
    out = {}
    for threads in (1, 2, 4, 8, 16):
        env = dict(os.environ, FFACCEL_NUM_THREADS=str(threads))
        r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
        print(f"cpu path, {threads:>2} threads: {r.stdout.strip()} ms per 512 crop {r.stderr.strip()[-200:]}")
        try:
            out[threads] = float(r.stdout.strip())
        except ValueError:
            pass
    return out


def print_stages(title: str, res: dict[str, float]) -> None:
    print(title)
    for k, v in res.items():
        print(f"  {k:<72} {v:8.2f} us")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--calls", type=int, default=20000)
    ap.add_argument("--json", default=None)
    ap.add_argument("--threads", action=argparse.BooleanOptionalAction, default=True,
                    help="also time the CPU path's 1080p -> 512 warp with 1..16 threads (subprocesses)")
    args = ap.parse_args()
    report: dict[str, object] = {"machine": _timing.machine(), "threads": os.environ.get("FFACCEL_NUM_THREADS")}
    cpu, cpu_paste = cpu_cases(args.calls)
    print_stages("CPU path, 64x64x3 uint8 warp, out= given (host time per call, median):", cpu)
    print_stages("CPU path, 64x64 crop pasted into 256x256x3, out= given (host time per call, median):", cpu_paste)
    checks = overheads(cpu)
    paste_checks = overheads(cpu_paste)
    for what, over in (("warp", checks), ("paste", paste_checks)):
        for k, v in over.items():
            print(f"  {what} overhead on top of the kernel call, {k:<12} {v:6.2f} us")
    goal = checks["plain"] <= CPU_GOAL_US and checks["prepared"] <= CPU_GOAL_US
    print(f"goal: CPU per-call overhead of a 64x64 warp <= {CPU_GOAL_US} us (plain and prepared): "
          f"{'PASS' if goal else 'FAIL'}")
    report["cpu_paste_us"] = cpu_paste
    rng = np.random.default_rng(1)
    cpu_ins = insightface_stages(rng.integers(0, 256, (256, 256, 3), dtype=np.uint8),
                                 rng.integers(0, 256, (128, 128, 3), dtype=np.uint8),
                                 face_matrix((128.0, 128.0), 60.0, 20.0), np.empty((256, 256, 3), np.uint8),
                                 min(args.calls, 5000), lambda: None)
    print_stages("CPU path, insightface paste of a 60-px face into 256x256x3, out= given (host time per call, "
                 "median):", cpu_ins)
    report["cpu_insightface_us"] = cpu_ins
    report["cpu_insightface_overhead_us"] = overheads(cpu_ins)
    report["cpu_paste_overhead_us"] = paste_checks
    report["cpu_us"] = cpu
    report["cpu_overhead_us"] = checks
    report["cpu_goal_pass"] = goal
    try:
        import torch
        cuda = torch.cuda.is_available()
    except ImportError:
        cuda = False
    if cuda:
        rng = np.random.default_rng(0)
        frame = torch.from_numpy(rng.integers(0, 256, (1080, 1920, 3), dtype=np.uint8)).cuda()
        crop = torch.empty((512, 512, 3), dtype=torch.uint8, device="cuda")
        big = np.array([[0.45, -0.1, -400.0], [0.1, 0.45, -150.0]])
        gpu = stages(frame, crop, big, (512, 512), min(args.calls, 5000), torch.cuda.synchronize)
        gpu["torch.cuda.current_stream(0)"] = per_call_us({"s": lambda: torch.cuda.current_stream(0)}, 5000)["s"]
        gpu["a no-op torch kernel (add_)"] = per_call_us({"s": lambda: crop.add_(0)}, 5000)["s"]
        torch.cuda.synchronize()
        print_stages("GPU path, torch, 1080p -> 512x512 crop, out= given (host time per call, median):", gpu)
        mask = torch.ones((512, 512), dtype=torch.float32, device="cuda")
        gpu_paste = paste_stages(frame, crop, mask, torch.empty_like(frame), big, min(args.calls, 5000),
                                 torch.cuda.synchronize)
        print_stages("GPU path, torch, 512x512 crop pasted into 1080p, out= given (host time per call, median):",
                     gpu_paste)
        report["gpu_paste_us"] = gpu_paste
        ins_crop = torch.from_numpy(rng.integers(0, 256, (128, 128, 3), dtype=np.uint8)).cuda()
        gpu_ins = insightface_stages(frame, ins_crop, face_matrix((960.0, 540.0), 300.0, 20.0),
                                     torch.empty_like(frame), min(args.calls, 3000), torch.cuda.synchronize)
        print_stages("GPU path, torch, insightface paste of a 300-px face into 1080p, out= given "
                     "(host time per call, median):", gpu_ins)
        report["gpu_insightface_us"] = gpu_ins
        report["gpu_insightface_overhead_us"] = overheads(gpu_ins)
        for k, v in overheads(gpu_ins).items():
            print(f"  insightface overhead on top of the kernel call, {k:<12} {v:6.2f} us")
        report["gpu_us"] = gpu
    else:
        print("GPU path: no CUDA device visible (torch), skipped")
    if args.threads:
        report["cpu_threads_ms_per_512_crop"] = thread_scaling()
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(report, fh, indent=1)


if __name__ == "__main__":
    main()
