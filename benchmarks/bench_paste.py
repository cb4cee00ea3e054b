"""Benchmark: paste a swapped 512x512 face crop back into a 1080p BGR frame.

Timed in the same run:
  CPU: ffaccel.paste_back (new frame, and in place) against a numpy/cv2 implementation
       of FaceFusion 3.x's paste_back steps (paste area, two cv2.warpAffine, float32
       blend, astype(uint8));
  GPU: ffaccel.paste_back on torch CUDA tensors (one face, and paste_back_batch with 4
       faces) with CUDA-event medians around each Python call; and, for a "warp ×2 +
       composite" reference, two ffaccel.warp_affine calls plus a torch blend; prepared
       calls (ffaccel.prepare); and CV-CUDA 0.19's cheapest equivalent where cvcuda is
       importable (a printed note otherwise): two warp_affine_into into frame-sized
       buffers (crop REPLICATE, uint8 mask CONSTANT 0) and composite_into over the frame.

    python benchmarks/bench_paste.py [--runs 200] [--cpu-runs 30] [--json out.json]
"""

from __future__ import annotations

import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests"))  # the peer the tests verify
import _cvcuda  # noqa: E402
import _timing  # noqa: E402
from paste_reference import facefusion_paste_back  # noqa: E402

import ffaccel  # noqa: E402


def main() -> int:
    args = _timing.arguments(__doc__, cpu_runs=30).parse_args()

    rng = np.random.default_rng(0)
    frame = rng.integers(0, 256, (1080, 1920, 3), dtype=np.uint8)
    crop = (rng.random((512, 512, 3)) * 255).astype(np.float32)  # FaceFusion's processors hand back float32
    mask = np.zeros((512, 512), np.float32)
    mask[32:-32, 32:-32] = 1.0
    m = _timing.face_matrices(1)[0]
    rows = []

    work = frame.copy()
    rows.append({"path": "cpu", "impl": "ffaccel paste_back", "faces": 1,
                 "median_ms": _timing.cpu_median_ms(lambda: ffaccel.paste_back(frame, crop, mask, m), args.cpu_runs)})
    rows.append({"path": "cpu", "impl": "ffaccel paste_back inplace", "faces": 1, "median_ms": _timing.cpu_median_ms(
        lambda: ffaccel.paste_back(work, crop, mask, m, inplace=True), args.cpu_runs)})
    rows.append({"path": "cpu", "impl": "ffaccel facefusion-exact", "faces": 1, "median_ms": _timing.cpu_median_ms(
        lambda: ffaccel.paste_back(frame, crop, mask, m, compat="facefusion"), args.cpu_runs)})
    try:
        import cv2

        cv2.setNumThreads(os.cpu_count() or 1)
        rows.append({"path": "cpu", "impl": "FaceFusion paste_back (numpy+cv2)", "faces": 1,
                     "median_ms": _timing.cpu_median_ms(lambda: facefusion_paste_back(frame, crop, mask, m),
                                                        args.cpu_runs)})
    except ImportError:
        print("cv2 not installed: FaceFusion row skipped", file=sys.stderr)

    torch = _timing.cuda_torch()
    gpu = torch is not None
    if gpu:
        g = torch.from_numpy(frame).cuda()
        gout = torch.empty_like(g)
        gc, gm = torch.from_numpy(crop).cuda(), torch.from_numpy(mask).cuda()
        rows.append({"path": "gpu", "impl": "ffaccel paste_back", "faces": 1, "median_ms": _timing.cuda_median_ms(
            lambda: ffaccel.paste_back(g, gc, gm, m, out=gout), args.runs)})
        gw = g.clone()
        rows.append({"path": "gpu", "impl": "ffaccel paste_back inplace", "faces": 1, "median_ms": _timing.cuda_median_ms(
            lambda: ffaccel.paste_back(gw, gc, gm, m, inplace=True), args.runs)})
        ms4 = _timing.face_matrices(4)
        gc4, gm4 = gc[None].repeat(4, 1, 1, 1).contiguous(), gm[None].repeat(4, 1, 1).contiguous()
        rows.append({"path": "gpu", "impl": "ffaccel paste_back_batch", "faces": 4, "median_ms": _timing.cuda_median_ms(
            lambda: ffaccel.paste_back_batch(g, gc4, gm4, ms4, out=gout), args.runs)})
        rows.append({"path": "gpu-graph", "impl": "ffaccel paste_back (device time)", "faces": 1, "median_ms":
                     _timing.cuda_graph_per_call_ms(lambda: ffaccel.paste_back(g, gc, gm, m, out=gout))})
        rows.append({"path": "gpu-graph", "impl": "ffaccel paste_back inplace (device time)", "faces": 1, "median_ms":
                     _timing.cuda_graph_per_call_ms(lambda: ffaccel.paste_back(gw, gc, gm, m, inplace=True))})
        rows.append({"path": "gpu-graph", "impl": "ffaccel paste_back_batch (device time)", "faces": 4, "median_ms":
                     _timing.cuda_graph_per_call_ms(lambda: ffaccel.paste_back_batch(g, gc4, gm4, ms4, out=gout))})
        area_m = np.linalg.inv(np.vstack([m, [0, 0, 1]]))[:2]

        def warp2_composite():
            wc = ffaccel.warp_affine(gc, area_m, (1920, 1080))
            wm = ffaccel.warp_affine(gm, area_m, (1920, 1080), border="constant").clamp_(0, 1)[..., None]
            return (g * (1 - wm) + wc * wm).round_().to(torch.uint8)

        rows.append({"path": "gpu", "impl": "warp x2 + torch composite", "faces": 1,
                     "median_ms": _timing.cuda_median_ms(warp2_composite, args.runs)})
        paste1 = ffaccel.prepare(ffaccel.paste_back, g, gc, gm, m, out=gout)
        rows.append({"path": "gpu", "impl": "ffaccel paste_back prepared", "faces": 1, "median_ms":
                     _timing.cuda_median_ms(lambda: paste1(g, gc, gm, m, out=gout), args.runs)})
        paste4 = ffaccel.prepare(ffaccel.paste_back_batch, g, gc4, gm4, ms4, out=gout)
        rows.append({"path": "gpu", "impl": "ffaccel paste_back_batch prepared", "faces": 4, "median_ms":
                     _timing.cuda_median_ms(lambda: paste4(g, gc4, gm4, ms4, out=gout), args.runs)})
        cvcuda = _cvcuda.load()  # prints a note and skips where it is not importable
        if cvcuda is not None:
            cv = _cvcuda.CvCuda(cvcuda, torch)
            gc_u8 = gc.round().clamp(0, 255).to(torch.uint8).contiguous()  # CV-CUDA composites uint8 only
            gm_u8 = (gm * 255).round().to(torch.uint8).contiguous()
            ours_u8 = torch.empty_like(g)
            rows.append({"path": "gpu", "impl": "ffaccel paste_back (uint8 crop, uint8 mask)", "faces": 1,
                         "median_ms": _timing.cuda_median_ms(
                             lambda: ffaccel.paste_back(g, gc_u8, gm_u8, m, out=ours_u8), args.runs)})
            cv_out = torch.empty_like(g)
            rows.append({"path": "gpu", "impl": "cvcuda 2x warp_affine_into + composite_into", "faces": 1,
                         "median_ms": _timing.cuda_median_ms(cv.paste(g, gc_u8, gm_u8, m, cv_out), args.runs)})

    def find(path, impl):
        return next((r["median_ms"] for r in rows if r["path"] == path and r["impl"] == impl), None)

    ratios = {}
    ff, ours = find("cpu", "FaceFusion paste_back (numpy+cv2)"), find("cpu", "ffaccel paste_back")
    if ff and ours:
        ratios["cpu: FaceFusion / ffaccel (goal >= 20)"] = ff / ours
        ratios["cpu: FaceFusion / ffaccel facefusion-exact"] = ff / find("cpu", "ffaccel facefusion-exact")
    one, four = find("gpu", "ffaccel paste_back"), find("gpu", "ffaccel paste_back_batch")
    if one and four:
        ratios["gpu: 4 faces / 1 face (goal <= 2)"] = four / one
        ratios["gpu: warp x2 + composite / ffaccel"] = find("gpu", "warp x2 + torch composite") / one
    cvc = find("gpu", "cvcuda 2x warp_affine_into + composite_into")
    if cvc:
        ratios["gpu: ffaccel (uint8 crop and mask) / cvcuda 3-op paste"] = \
            find("gpu", "ffaccel paste_back (uint8 crop, uint8 mask)") / cvc
        ratios["gpu: ffaccel prepared (float32 crop and mask) / cvcuda 3-op paste"] = \
            find("gpu", "ffaccel paste_back prepared") / cvc
    for r in rows:
        r["median_us"] = r["median_ms"] * 1e3
    _timing.print_table("bench_paste: 512x512 face into a 1080p BGR frame", rows, ["path", "impl", "faces", "median_us"])
    _timing.print_table("ratios", [{"ratio": k, "value": v} for k, v in ratios.items()], ["ratio", "value"])
    _timing.save_json(args.json, {"machine": _timing.machine(), "rows": rows, "ratios": ratios})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
