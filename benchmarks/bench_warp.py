"""Benchmark: warp a 1080p BGR frame to one 512x512 face crop, and to 8 crops at once.

Competitors timed in the same run:
  GPU: ffaccel (torch tensors; plain and prepared with ffaccel.prepare), torch
       grid_sample (uint8 -> float -> uint8), and CV-CUDA 0.19's warp_affine_into on
       the same tensors (cvcuda.as_tensor(t, "HWC"), torch's stream) where cvcuda is
       importable (a printed note otherwise);
  CPU: ffaccel's CPU path and cv2.warpAffine, each with all cores.
GPU times are medians of CUDA-event timings around each Python call (launch included),
CPU times medians of wall-clock timings.

    python benchmarks/bench_warp.py [--runs 200] [--json results.json]
"""

from __future__ import annotations

import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
import _cvcuda  # noqa: E402
import _timing  # noqa: E402

import ffaccel  # noqa: E402


def torch_grid_sample_warp(torch, frame_nchw_f32, inverse, size, h, w):
    """uint8 -> float -> grid_sample (bilinear, border) -> round -> uint8, batch of crops."""
    n = inverse.shape[0]
    ys, xs = torch.meshgrid(torch.arange(size, device="cuda", dtype=torch.float32),
                            torch.arange(size, device="cuda", dtype=torch.float32), indexing="ij")
    sx = inverse[:, 0, 0, None, None] * xs + inverse[:, 0, 1, None, None] * ys + inverse[:, 0, 2, None, None]
    sy = inverse[:, 1, 0, None, None] * xs + inverse[:, 1, 1, None, None] * ys + inverse[:, 1, 2, None, None]
    grid = torch.stack([(2 * sx + 1) / w - 1, (2 * sy + 1) / h - 1], dim=-1)
    src = frame_nchw_f32.expand(n, -1, -1, -1)
    out = torch.nn.functional.grid_sample(src, grid, mode="bilinear", padding_mode="border", align_corners=False)
    return out.round_().clamp_(0, 255).to(torch.uint8).permute(0, 2, 3, 1)


def inverse_matrices(ms: np.ndarray) -> np.ndarray:
    full = np.concatenate([ms, np.tile([[[0.0, 0.0, 1.0]]], (len(ms), 1, 1))], axis=1)
    return np.linalg.inv(full)[:, :2]


def main() -> int:
    args = _timing.arguments(__doc__, cpu_runs=50).parse_args()

    rng = np.random.default_rng(0)
    frame = rng.integers(0, 256, (1080, 1920, 3), dtype=np.uint8)
    one, eight = _timing.face_matrices(1), _timing.face_matrices(8)
    rows = []

    try:
        import cv2
    except ImportError:
        cv2 = None
    rows.append({"path": "cpu", "impl": "ffaccel", "crops": 1,
                 "median_ms": _timing.cpu_median_ms(lambda: ffaccel.warp_affine(frame, one[0], (512, 512)), args.cpu_runs)})
    rows.append({"path": "cpu", "impl": "ffaccel batch", "crops": 8,
                 "median_ms": _timing.cpu_median_ms(lambda: ffaccel.warp_affine_batch(frame, eight, (512, 512)), args.cpu_runs)})
    if cv2 is not None:
        cv2.setNumThreads(os.cpu_count() or 1)
        rows.append({"path": "cpu", "impl": "cv2.warpAffine", "crops": 1, "median_ms": _timing.cpu_median_ms(
            lambda: cv2.warpAffine(frame, one[0], (512, 512), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE),
            args.cpu_runs)})
        rows.append({"path": "cpu", "impl": "cv2.warpAffine x8", "crops": 8, "median_ms": _timing.cpu_median_ms(
            lambda: [cv2.warpAffine(frame, m, (512, 512), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
                     for m in eight], args.cpu_runs)})

    torch = _timing.cuda_torch()
    gpu = torch is not None
    if gpu:
        g = torch.from_numpy(frame).cuda()
        out1 = torch.empty((512, 512, 3), dtype=torch.uint8, device="cuda")
        out8 = torch.empty((8, 512, 512, 3), dtype=torch.uint8, device="cuda")
        rows.append({"path": "gpu", "impl": "ffaccel", "crops": 1, "median_ms": _timing.cuda_median_ms(
            lambda: ffaccel.warp_affine(g, one[0], (512, 512), out=out1), args.runs)})
        rows.append({"path": "gpu", "impl": "ffaccel batch", "crops": 8, "median_ms": _timing.cuda_median_ms(
            lambda: ffaccel.warp_affine_batch(g, eight, (512, 512), out=out8), args.runs)})
        rows.append({"path": "gpu-graph", "impl": "ffaccel (device time)", "crops": 1, "median_ms":
                     _timing.cuda_graph_per_call_ms(lambda: ffaccel.warp_affine(g, one[0], (512, 512), out=out1))})
        rows.append({"path": "gpu-graph", "impl": "ffaccel batch (device time)", "crops": 8, "median_ms":
                     _timing.cuda_graph_per_call_ms(lambda: ffaccel.warp_affine_batch(g, eight, (512, 512), out=out8))})
        gf = g.permute(2, 0, 1)[None].float()
        inv1 = torch.tensor(inverse_matrices(one), device="cuda", dtype=torch.float32)
        inv8 = torch.tensor(inverse_matrices(eight), device="cuda", dtype=torch.float32)
        rows.append({"path": "gpu", "impl": "torch grid_sample", "crops": 1, "median_ms": _timing.cuda_median_ms(
            lambda: torch_grid_sample_warp(torch, g.permute(2, 0, 1)[None].float(), inv1, 512, 1080, 1920), args.runs)})
        rows.append({"path": "gpu", "impl": "torch grid_sample", "crops": 8, "median_ms": _timing.cuda_median_ms(
            lambda: torch_grid_sample_warp(torch, gf, inv8, 512, 1080, 1920), args.runs)})
        warp1 = ffaccel.prepare(ffaccel.warp_affine, g, one[0], (512, 512), out=out1)
        rows.append({"path": "gpu", "impl": "ffaccel prepared", "crops": 1, "median_ms": _timing.cuda_median_ms(
            lambda: warp1(g, one[0], out=out1), args.runs)})
        warp8 = ffaccel.prepare(ffaccel.warp_affine_batch, g, eight, (512, 512), out=out8)
        rows.append({"path": "gpu", "impl": "ffaccel batch prepared", "crops": 8, "median_ms": _timing.cuda_median_ms(
            lambda: warp8(g, eight, out=out8), args.runs)})
        cvcuda = _cvcuda.load()  # prints a note and skips where it is not importable
        if cvcuda is not None:
            cv = _cvcuda.CvCuda(cvcuda, torch)
            cv_out = torch.empty_like(out1)
            rows.append({"path": "gpu", "impl": "cvcuda.warp_affine_into", "crops": 1, "median_ms":
                         _timing.cuda_median_ms(cv.warp_into(cv_out, g, one[0]), args.runs)})
            outs8 = [torch.empty_like(out1) for _ in range(8)]
            calls8 = [cv.warp_into(o, g, mm) for o, mm in zip(outs8, eight)]
            rows.append({"path": "gpu", "impl": "cvcuda.warp_affine_into x8", "crops": 8, "median_ms":
                         _timing.cuda_median_ms(lambda: [c() for c in calls8], args.runs)})

    def find(path, impl, crops):
        for r in rows:
            if r["path"] == path and r["impl"] == impl and r["crops"] == crops:
                return r["median_ms"]
        return None

    ratios = {}
    ff1, ff8 = find("gpu", "ffaccel", 1), find("gpu", "ffaccel batch", 8)
    if ff1:
        ratios["gpu: 8 crops / 1 crop (goal <= 2)"] = ff8 / ff1
        for impl in ("torch grid_sample", "cvcuda.warp_affine_into"):
            other = find("gpu", impl, 1)
            if other:
                ratios[f"gpu: ffaccel / {impl} (1 crop)"] = ff1 / other
        cvc, prep = find("gpu", "cvcuda.warp_affine_into", 1), find("gpu", "ffaccel prepared", 1)
        if cvc and prep:
            ratios["gpu: ffaccel prepared / cvcuda.warp_affine_into (1 crop)"] = prep / cvc
        cvc8 = find("gpu", "cvcuda.warp_affine_into x8", 8)
        if cvc8:
            ratios["gpu: ffaccel batch / cvcuda.warp_affine_into x8"] = ff8 / cvc8
    c1, cv1 = find("cpu", "ffaccel", 1), find("cpu", "cv2.warpAffine", 1)
    if c1 and cv1:
        ratios["cpu: ffaccel / cv2 (1 crop, goal <= 1.5)"] = c1 / cv1
    c8, cv8 = find("cpu", "ffaccel batch", 8), find("cpu", "cv2.warpAffine x8", 8)
    if c8 and cv8:
        ratios["cpu: ffaccel / cv2 (8 crops)"] = c8 / cv8

    for r in rows:
        r["median_us"] = r["median_ms"] * 1e3
    _timing.print_table("bench_warp: 1080p BGR frame -> 512x512 crops", rows, ["path", "impl", "crops", "median_us"])
    _timing.print_table("ratios", [{"ratio": k, "value": v} for k, v in ratios.items()], ["ratio", "value"])
    _timing.save_json(args.json, {"machine": _timing.machine(), "rows": rows, "ratios": ratios,
                                  "runs": args.runs, "cpu_runs": args.cpu_runs})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
