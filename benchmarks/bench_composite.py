"""Benchmark: seam-band composite of a 1080p frame, and 512x512 mask hysteresis (full vs ROI).

Timed in the same run:
  composite  ffaccel CPU vs the same float32 formula in numpy (and a plain numpy blend);
  hysteresis ffaccel CPU full mask, ROI over the seam ring's box (new array, and in place
             on the mask), numpy full and ROI; seam_ring; MaskHysteresis.update vs numpy.
  GPU rows (torch CUDA tensors, CUDA-event medians around each Python call) when a GPU
  is visible.
CPU times are medians of wall-clock timings with all cores.

    python benchmarks/bench_composite.py [--runs 200] [--cpu-runs 30] [--json results.json]
"""

from __future__ import annotations

import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
import _timing  # noqa: E402

import ffaccel  # noqa: E402

F32 = np.float32
BAND, FEATHER = (30, 225), 0.15
T_IN, T_OUT, RING = 0.04, 0.04, (0.0, 1.0)


def numpy_composite(fg, bg, alpha_u8):
    """ffaccel's formula (see ffaccel.composite) written with numpy float32 arrays."""
    a = alpha_u8.astype(F32)
    lo, hi = F32(BAND[0]), F32(BAND[1])
    width = hi - lo
    t = (a - lo) / width
    s = (t * t) * (F32(3) - F32(2) * t)
    a = np.where((a > lo) & (a < hi), lo + width * (t + F32(FEATHER) * (s - t)), a)
    m = (a / F32(255))[..., None]
    b = bg.astype(F32)
    return np.rint(b + m * (fg.astype(F32) - b)).astype(np.uint8)


def numpy_plain_blend(fg, bg, alpha_u8):
    m = (alpha_u8.astype(F32) / F32(255))[..., None]
    return (bg * (1 - m) + fg * m).astype(np.uint8)  # FaceFusion-style: float blend, truncate


def numpy_hysteresis(mask, prev):
    d = mask - prev
    return np.where((d > F32(T_IN)) | (-d > F32(T_OUT)), mask, prev)


def numpy_hysteresis_roi(mask, prev, box):
    x, y, w, h = box
    out = mask.copy()
    out[y:y + h, x:x + w] = numpy_hysteresis(mask[y:y + h, x:x + w], prev[y:y + h, x:x + w])
    return out


def numpy_ring_box(mask):
    ring = (mask > RING[0]) & (mask < RING[1])
    rows, cols = np.flatnonzero(ring.any(axis=1)), np.flatnonzero(ring.any(axis=0))
    return ring, (cols[0], rows[0], cols[-1] - cols[0] + 1, rows[-1] - rows[0] + 1)


def numpy_tracker_update(mask, state):
    """What MaskHysteresis.update computes, in numpy: ring box, then gated hysteresis in it."""
    _, (x, y, w, h) = numpy_ring_box(mask)
    out = mask.copy()
    m, p = mask[y:y + h, x:x + w], state[y:y + h, x:x + w]
    held = ~((m - p > F32(T_IN)) | (p - m > F32(T_OUT))) & (m > RING[0]) & (m < RING[1])
    out[y:y + h, x:x + w] = np.where(held, p, m)
    return out


def face_masks(rng, size=512):
    """Two consecutive soft face masks (ellipse, 24 px seam) with a little seam noise."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    r = np.hypot((xx - size / 2) / 150.0, (yy - size / 2 - 20) / 190.0) * 170.0
    base = np.clip((170.0 - r) / 24.0 + 0.5, 0, 1).astype(np.float32)
    soft = (base > 0) & (base < 1)
    noisy = [np.clip(np.where(soft, base + rng.normal(0, 0.02, base.shape), base), 0, 1).astype(F32) for _ in range(2)]
    return noisy[0], noisy[1]


def main() -> int:
    args = _timing.arguments(__doc__, cpu_runs=30).parse_args()
    rng = np.random.default_rng(0)
    cpu = lambda fn: _timing.cpu_median_ms(fn, args.cpu_runs)  # noqa: E731
    rows: list[dict] = []

    def add(path, case, impl, ms, **extra):
        rows.append({"path": path, "case": case, "impl": impl, "median_us": ms * 1e3, **extra})

    fg, bg = (rng.integers(0, 256, (1080, 1920, 3), dtype=np.uint8) for _ in range(2))
    alpha = rng.integers(0, 256, (1080, 1920), dtype=np.uint8)
    alpha_f = (alpha / 255).astype(F32)
    out = np.empty_like(fg)
    assert np.array_equal(ffaccel.composite(fg, bg, alpha), numpy_composite(fg, bg, alpha))
    add("cpu", "composite 1080p", "ffaccel (uint8 alpha)", cpu(lambda: ffaccel.composite(fg, bg, alpha, out=out)))
    add("cpu", "composite 1080p", "ffaccel (float alpha)", cpu(lambda: ffaccel.composite(fg, bg, alpha_f, out=out)))
    add("cpu", "composite 1080p", "numpy same formula", cpu(lambda: numpy_composite(fg, bg, alpha)))
    add("cpu", "composite 1080p", "numpy plain blend", cpu(lambda: numpy_plain_blend(fg, bg, alpha)))

    prev, mask = face_masks(rng)
    _, box = ffaccel.seam_ring(mask, *RING)
    box_share = box[2] * box[3] / mask.size
    work = mask.copy()
    assert np.array_equal(ffaccel.mask_hysteresis(mask, prev, t_in=T_IN, t_out=T_OUT), numpy_hysteresis(mask, prev))
    hyst = "hysteresis 512x512"
    add("cpu", hyst, "ffaccel full", cpu(lambda: ffaccel.mask_hysteresis(mask, prev, t_in=T_IN, t_out=T_OUT)))
    add("cpu", hyst, "ffaccel ROI, new array", cpu(lambda: ffaccel.mask_hysteresis(
        mask, prev, t_in=T_IN, t_out=T_OUT, roi=box)), box_share=box_share)
    add("cpu", hyst, "ffaccel ROI, out=mask", cpu(lambda: ffaccel.mask_hysteresis(
        work, prev, t_in=T_IN, t_out=T_OUT, roi=box, out=work)), box_share=box_share)
    add("cpu", hyst, "numpy full", cpu(lambda: numpy_hysteresis(mask, prev)))
    add("cpu", hyst, "numpy ROI", cpu(lambda: numpy_hysteresis_roi(mask, prev, box)), box_share=box_share)
    add("cpu", "seam_ring 512x512", "ffaccel", cpu(lambda: ffaccel.seam_ring(mask, *RING)))
    add("cpu", "seam_ring 512x512", "numpy", cpu(lambda: numpy_ring_box(mask)))
    track = ffaccel.MaskHysteresis(t_in=T_IN, t_out=T_OUT, ring=RING)
    track.update(prev)
    assert np.array_equal(track.update(mask), numpy_tracker_update(mask, prev))
    add("cpu", "tracker update 512x512", "ffaccel MaskHysteresis", cpu(lambda: track.update(mask)))
    add("cpu", "tracker update 512x512", "numpy", cpu(lambda: numpy_tracker_update(mask, prev)))

    torch = _timing.cuda_torch()
    gpu = torch is not None
    if gpu:
        cuda = lambda fn: _timing.cuda_median_ms(fn, args.runs)  # noqa: E731
        gfg, gbg, ga = (torch.from_numpy(x).cuda() for x in (fg, bg, alpha))
        gout = torch.empty_like(gfg)
        add("gpu", "composite 1080p", "ffaccel", cuda(lambda: ffaccel.composite(gfg, gbg, ga, out=gout)))
        tfg, tbg = gfg.float(), gbg.float()
        add("gpu", "composite 1080p", "torch plain blend", cuda(
            lambda: (tbg + (ga.float() / 255)[..., None] * (tfg - tbg)).round_().to(torch.uint8)))
        gm, gp = torch.from_numpy(mask).cuda(), torch.from_numpy(prev).cuda()
        gwork, gres = gm.clone(), torch.empty_like(gm)
        add("gpu", hyst, "ffaccel full", cuda(lambda: ffaccel.mask_hysteresis(gm, gp, t_in=T_IN, t_out=T_OUT,
                                                                               out=gres)))
        add("gpu", hyst, "ffaccel ROI, out=mask", cuda(lambda: ffaccel.mask_hysteresis(
            gwork, gp, t_in=T_IN, t_out=T_OUT, roi=box, out=gwork)), box_share=box_share)
        add("gpu", hyst, "torch where", cuda(lambda: torch.where((gm - gp > T_IN) | (gp - gm > T_OUT), gm, gp)))
        gtrack = ffaccel.MaskHysteresis(t_in=T_IN, t_out=T_OUT, ring=RING)
        gtrack.update(gp)
        add("gpu", "tracker update 512x512", "ffaccel MaskHysteresis", cuda(lambda: gtrack.update(gm)))

    def find(path, case, impl):
        return next((r["median_us"] for r in rows if (r["path"], r["case"], r["impl"]) == (path, case, impl)), None)

    ratio_defs = [
        ("cpu composite: numpy same formula / ffaccel", ("cpu", "composite 1080p", "numpy same formula"),
         ("cpu", "composite 1080p", "ffaccel (uint8 alpha)")),
        ("cpu composite: numpy plain blend / ffaccel", ("cpu", "composite 1080p", "numpy plain blend"),
         ("cpu", "composite 1080p", "ffaccel (uint8 alpha)")),
        ("cpu hysteresis: numpy full / ffaccel full", ("cpu", hyst, "numpy full"), ("cpu", hyst, "ffaccel full")),
        ("cpu hysteresis: ffaccel full / ffaccel ROI out=mask", ("cpu", hyst, "ffaccel full"),
         ("cpu", hyst, "ffaccel ROI, out=mask")),
        ("cpu hysteresis: numpy ROI / ffaccel ROI out=mask", ("cpu", hyst, "numpy ROI"),
         ("cpu", hyst, "ffaccel ROI, out=mask")),
        ("cpu tracker: numpy / ffaccel", ("cpu", "tracker update 512x512", "numpy"),
         ("cpu", "tracker update 512x512", "ffaccel MaskHysteresis")),
        ("gpu composite: torch plain blend / ffaccel", ("gpu", "composite 1080p", "torch plain blend"),
         ("gpu", "composite 1080p", "ffaccel")),
        ("gpu hysteresis: torch where / ffaccel full", ("gpu", hyst, "torch where"), ("gpu", hyst, "ffaccel full")),
    ]
    ratios = {}
    for label, num, den in ratio_defs:
        a, b = find(*num), find(*den)
        if a and b:
            ratios[label] = a / b

    _timing.print_table("bench_composite (median us)", rows, ["path", "case", "impl", "median_us", "box_share"])
    _timing.print_table("ratios (> 1: the second is faster)", [{"ratio": k, "value": v} for k, v in ratios.items()],
                        ["ratio", "value"])
    _timing.save_json(args.json, {"machine": _timing.machine(), "rows": rows, "ratios": ratios, "runs": args.runs,
                                  "cpu_runs": args.cpu_runs})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
