"""Device time of each CUDA kernel behind one call, from torch.profiler (no host time in it).

The bench_dispatch and bench_insightface figures are CUDA events around Python calls, so they
hold the host's launch time too; this script says how much of a call is the GPU's own work,
kernel by kernel, which is what a CUDA graph replay is left with.

    python benchmarks/kernel_times.py [--calls 50] [--json out.json]
    ncu --profile-from-start off --set full -o report python benchmarks/kernel_times.py --profile "4K"

With --profile TEXT, the first case whose name holds TEXT runs a few times, then once more
between cudaProfilerStart and cudaProfilerStop and nothing is timed: Nsight Compute
(`--profile-from-start off`) then profiles that one call's kernels only
(`benchmarks/run_device.sh ncu`).

Rows: the one-face work of bench_dispatch (1080p frame, 512 crop, feather sigma 8: warp,
feather, paste into a new frame and in place) and the insightface paste at 1080p and 4K.
Per row: each kernel's name (shortened), launches per call and mean device us per call.

Kernels run without programmatic dependent launch here (FFACCEL_PDL=0, set before the first
launch; ``--pdl`` leaves the variable as it is): under it a kernel's span starts when its
blocks are placed, while the kernel before it still runs, so the spans overlap and their sum
is no longer the device's work (kernels/cuda/launch.h).
"""

from __future__ import annotations

import os
import sys
from collections import defaultdict

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests"))

import _timing  # noqa: E402

import ffaccel  # noqa: E402


def _short_name(name: str) -> str:
    """'void ffaccel::cuda::(anonymous namespace)::warp_affine_kernel<...>(...)' -> 'warp_affine_kernel'."""
    name = name.removeprefix("void ").replace("(anonymous namespace)::", "")
    for stop in ("<", "("):
        if name.find(stop) > 0:
            name = name[:name.find(stop)]
    return name.rsplit("::", 1)[-1].strip()[:60] or "?"


def kernel_times(fn, calls: int) -> list[dict]:
    """Each kernel (and copy) that ``calls`` runs of ``fn`` launch: launches and device us, per call."""
    import torch
    from torch.profiler import ProfilerActivity, profile

    for _ in range(5):
        fn()
    torch.cuda.synchronize()
    with profile(activities=[ProfilerActivity.CUDA]) as prof:
        for _ in range(calls):
            fn()
        torch.cuda.synchronize()
    total: dict[str, list[float]] = defaultdict(lambda: [0, 0.0])
    for ev in prof.events():
        if ev.device_type == torch.autograd.DeviceType.CUDA:
            name = _short_name(ev.name)
            total[name][0] += 1
            total[name][1] += getattr(ev, "device_time_total", None) or getattr(ev, "cuda_time_total", 0.0)
    return [{"kernel": k, "launches_per_call": n / calls, "device_us_per_call": t / calls}
            for k, (n, t) in sorted(total.items(), key=lambda kv: -kv[1][1])]


def profile_one(torch, cases: dict, text: str) -> int:
    """One call of the first case whose name holds ``text``, between cudaProfilerStart and Stop."""
    name = next((c for c in cases if text in c), None)
    if name is None:
        print(f"kernel_times: no case holds {text!r}; cases: {list(cases)}", file=sys.stderr)
        return 2
    for _ in range(5):
        cases[name]()
    torch.cuda.synchronize()
    torch.cuda.cudart().cudaProfilerStart()
    cases[name]()
    torch.cuda.synchronize()
    torch.cuda.cudart().cudaProfilerStop()
    print(f"kernel_times: profiled one call of {name!r}")
    return 0


def main() -> int:
    ap = _timing.arguments(__doc__.split("\n")[0], None)
    ap.add_argument("--calls", type=int, default=50)
    ap.add_argument("--profile", default="", help="run one call of the first case whose name holds this text, "
                                                  "inside cudaProfilerStart/Stop, for ncu; time nothing")
    ap.add_argument("--pdl", action="store_true", help="leave FFACCEL_PDL as it is (under PDL the spans overlap)")
    args = ap.parse_args()
    if not args.pdl:
        os.environ["FFACCEL_PDL"] = "0"  # read at the first launch, below
    torch = _timing.cuda_torch()
    if torch is None:
        print("kernel_times: needs torch with a CUDA device")
        return 0
    from bench_insightface import SIZES
    from insightface_reference import face_matrix as ins_face_matrix

    rng = np.random.default_rng(0)
    frame = torch.from_numpy(rng.integers(0, 256, (1080, 1920, 3), dtype=np.uint8)).cuda()
    m = _timing.face_matrices(1)[0]
    crop = torch.empty((512, 512, 3), dtype=torch.uint8, device="cuda")
    box = np.zeros((512, 512), np.float32)
    box[40:-40, 40:-40] = 1.0
    hard = torch.from_numpy(box).cuda()
    soft = torch.empty_like(hard)
    ffaccel.feather_mask(hard, 8.0, out=soft)
    out = torch.empty_like(frame)
    work = frame.clone()
    cases = {
        "warp 1080p -> 512": lambda: ffaccel.warp_affine(frame, m, (512, 512), out=crop),
        "feather 512x512, sigma 8": lambda: ffaccel.feather_mask(hard, 8.0, out=soft),
        "paste 512 -> 1080p, new frame": lambda: ffaccel.paste_back(frame, crop, soft, m, out=out),
        "paste 512 -> 1080p, in place": lambda: ffaccel.paste_back(work, crop, soft, m, inplace=True),
    }
    for name, h, w, size in SIZES:
        f = torch.from_numpy(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)).cuda()
        fo = torch.empty_like(f)
        fake = torch.from_numpy(rng.integers(0, 256, (128, 128, 3), dtype=np.uint8)).cuda()
        mi = ins_face_matrix((w * 0.5, h * 0.5), size, 20.0)
        cases[f"insightface paste {name}, new frame"] = (
            lambda f=f, fake=fake, mi=mi, fo=fo: ffaccel.paste_back_insightface(f, fake, mi, out=fo))
    if args.profile:
        return profile_one(torch, cases, args.profile)
    rows = []
    for case, fn in cases.items():
        for r in kernel_times(fn, args.calls):
            rows.append({"case": case, **r})
        rows.append({"case": case, "kernel": "(all kernels)", "launches_per_call": None,
                     "device_us_per_call": sum(r["device_us_per_call"] for r in rows if r["case"] == case
                                               and r["kernel"] != "(all kernels)")})
    _timing.print_table(f"device time per call (torch.profiler, {args.calls} calls, "
                        f"{torch.cuda.get_device_name()})", rows,
                        ["case", "kernel", "launches_per_call", "device_us_per_call"])
    _timing.save_json(args.json, {"benchmark": "kernel_times", "machine": _timing.machine(), "rows": rows})
    return 0


if __name__ == "__main__":
    sys.exit(main())
