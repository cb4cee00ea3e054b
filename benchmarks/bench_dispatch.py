"""Benchmark: per-call cost of the GPU ops, plain and prepared, beside CV-CUDA (issue 17).

One process, one GPU, torch tensors in and ``out=`` given. Rows (CUDA events around each
Python call, median of ``--runs``; graph rows time one ``graph.replay()`` the same way;
every GPU row is timed once a round, ``--rounds`` rounds interleaved, and the median of
the rounds is reported with their range):

- floors: a no-op torch kernel (what this timing reads for the cheapest launch there is:
  event records, launch latency), and the warp and the paste alone replayed from a graph;

- warp 1080p -> 512 crop: ffaccel plain, ffaccel prepared, CV-CUDA warp_affine_into;
- paste 512 crop -> 1080p (new frame via out=): ffaccel plain, prepared, CV-CUDA
  (two warps + composite, its cheapest equivalent);
- one face, warp + feather mask + paste: eager plain, eager prepared, CUDA-graph replay;
- one face, warp + paste (the issue's own "one face": its table's 17 us graph row has no
  mask op), replayed as a CUDA graph;
- 8 faces: warp_affine_batch + paste_back_batch, plain and prepared;
- CPU path: host overhead of a 64x64 warp and of a 64x64 paste on top of their kernel
  call (as benchmarks/profile_overhead.py measures it);
- pipelined (``--pipelined N``, default 200; 0: none): the same calls of a few rows
  (PIPELINED) N at a time back to back between two events, time per call: what a loop of
  calls costs once host and device overlap (the larger of the host's and the device's
  time per call), ffaccel and CV-CUDA alike. The issue's goals are read from the rows
  above; these are reported beside them.

The goals of issue 17 section 3 are computed from these numbers and printed PASS/FAIL;
a goal whose peer is missing (no cvcuda, no GPU) prints SKIP. JSON with ``--json``.

    python benchmarks/bench_dispatch.py [--runs 200] [--rounds 5] [--json dispatch.json]
"""

from __future__ import annotations

import os
import statistics
import sys
from collections.abc import Callable
from typing import Any

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
import _cvcuda  # noqa: E402
import _timing  # noqa: E402
import profile_overhead  # noqa: E402

import ffaccel  # noqa: E402

GOALS = {  # name: (row, limit in us, or (peer row, ratio))
    "plain warp <= 0.5x CV-CUDA warp": ("warp plain", ("warp CV-CUDA", 0.5)),
    "plain paste <= 0.4x CV-CUDA paste (2 warps + composite)": ("paste plain", ("paste CV-CUDA", 0.4)),
    "prepared warp <= 10 us": ("warp prepared", 10.0),
    "prepared paste <= 12 us": ("paste prepared", 12.0),
    "one face warp + mask + paste, prepared eager <= 25 us": ("face prepared eager", 25.0),
    # the table defines "one face" as warp + paste (69 us eager, 17 us as a graph);
    # the row with the feather mask as well is reported beside it, without a goal
    "graph replay of one face (warp + paste) <= 12 us": ("warp + paste graph replay", 12.0),
    "8 faces batched (warp + paste, plain) <= 60 us": ("8 faces batched plain", 60.0),
}
FLOOR_LAUNCH = "floor: a no-op torch kernel (add_ on 1 element)"
# rows also timed as back-to-back loops (--pipelined), and the ratios read from them
PIPELINED = (FLOOR_LAUNCH, "warp plain", "warp prepared", "warp CV-CUDA", "paste plain", "paste prepared",
             "paste CV-CUDA", "face prepared eager", "8 faces batched prepared")
PIPELINED_RATIOS = (("warp plain", "warp CV-CUDA"), ("warp prepared", "warp CV-CUDA"),
                    ("paste plain", "paste CV-CUDA"))
CPU_GOAL = "CPU path: 64x64 warp overhead <= 5 us on top of the pixel work"


def gpu_cases(torch: Any) -> dict[str, Callable[[], Any]]:
    """Every GPU row's zero-argument call, by row name (CV-CUDA's where it imports)."""
    rng = np.random.default_rng(0)
    frame = torch.from_numpy(rng.integers(0, 256, (1080, 1920, 3), dtype=np.uint8)).cuda()
    m = _timing.face_matrices(1)[0]
    ms8 = _timing.face_matrices(8)
    crop = torch.empty((512, 512, 3), dtype=torch.uint8, device="cuda")
    crops8 = torch.empty((8, 512, 512, 3), dtype=torch.uint8, device="cuda")
    box = np.zeros((512, 512), np.float32)
    box[40:-40, 40:-40] = 1.0
    hard = torch.from_numpy(box).cuda()
    soft = torch.empty_like(hard)
    ffaccel.feather_mask(hard, 8.0, out=soft)
    masks8 = soft[None].repeat(8, 1, 1).contiguous()
    out = torch.empty_like(frame)
    one = torch.zeros(1, device="cuda")
    cases: dict[str, Callable[[], Any]] = {}

    # The floors: what the timing itself reads for the cheapest possible launch, and for
    # each kernel with no Python around it (one launch in a graph).
    cases[FLOOR_LAUNCH] = lambda: one.add_(0)
    warp = ffaccel.prepare(ffaccel.warp_affine, frame, m, (512, 512), out=crop)
    paste = ffaccel.prepare(ffaccel.paste_back, frame, crop, soft, m, out=out)
    feather = ffaccel.prepare(ffaccel.feather_mask, hard, 8.0, out=soft)
    cases["floor: warp kernel alone, graph replay"] = _timing.captured_graph(lambda: warp(frame, m, out=crop)).replay
    cases["floor: paste kernel alone, graph replay"] = _timing.captured_graph(
        lambda: paste(frame, crop, soft, m, out=out)).replay

    cases["warp plain"] = lambda: ffaccel.warp_affine(frame, m, (512, 512), out=crop)
    cases["warp prepared"] = lambda: warp(frame, m, out=crop)
    cases["paste plain"] = lambda: ffaccel.paste_back(frame, crop, soft, m, out=out)
    cases["paste prepared"] = lambda: paste(frame, crop, soft, m, out=out)
    cases["feather plain"] = lambda: ffaccel.feather_mask(hard, 8.0, out=soft)
    cases["feather prepared"] = lambda: feather(hard, out=soft)

    def face_plain():
        ffaccel.warp_affine(frame, m, (512, 512), out=crop)
        ffaccel.feather_mask(hard, 8.0, out=soft)
        ffaccel.paste_back(frame, crop, soft, m, out=out)

    def face_prepared():
        warp(frame, m, out=crop)
        feather(hard, out=soft)
        paste(frame, crop, soft, m, out=out)

    cases["face plain eager"] = face_plain
    cases["face prepared eager"] = face_prepared
    cases["face graph replay"] = _timing.captured_graph(face_prepared).replay

    def warp_paste():
        warp(frame, m, out=crop)
        paste(frame, crop, soft, m, out=out)

    cases["warp + paste graph replay"] = _timing.captured_graph(warp_paste).replay

    def eight_plain():
        ffaccel.warp_affine_batch(frame, ms8, (512, 512), out=crops8)
        ffaccel.paste_back_batch(frame, crops8, masks8, ms8, out=out)

    warp8 = ffaccel.prepare(ffaccel.warp_affine_batch, frame, ms8, (512, 512), out=crops8)
    paste8 = ffaccel.prepare(ffaccel.paste_back_batch, frame, crops8, masks8, ms8, out=out)

    def eight_prepared():
        warp8(frame, ms8, out=crops8)
        paste8(frame, crops8, masks8, ms8, out=out)

    cases["8 faces batched plain"] = eight_plain
    cases["8 faces batched prepared"] = eight_prepared

    cvcuda = _cvcuda.load()
    if cvcuda is not None:
        cv = _cvcuda.CvCuda(cvcuda, torch)
        cv_crop = torch.empty_like(crop)
        cases["warp CV-CUDA"] = cv.warp_into(cv_crop, frame, m)
        mask_u8 = (soft * 255).round().to(torch.uint8).contiguous()
        cv_out = torch.empty_like(frame)
        cases["paste CV-CUDA"] = cv.paste(frame, crop, mask_u8, m, cv_out)
        cases["warp CV-CUDA"]()
        torch.cuda.synchronize()
        ours = ffaccel.warp_affine(frame, m, (512, 512)).cpu().numpy().astype(int)
        diff = np.abs(cv_crop.cpu().numpy().astype(int) - ours)
        print(f"check: CV-CUDA crop vs ffaccel crop, max |diff| {diff.max()}, mean {diff.mean():.3f} "
              "(same sampling: both bilinear, replicate)", file=sys.stderr)
    torch.cuda.synchronize()
    return cases


def gpu_rows(runs: int, rounds: int, pipelined: int) -> tuple[dict[str, float], dict[str, list[float]]]:
    """Each row's median over ``rounds`` rounds (us), and the rounds' own medians. A round
    times every row once (``runs`` calls, CUDA events around each; then the PIPELINED rows
    as ``pipelined`` calls back to back), so a slow phase of the host lands on every row
    alike instead of on the rows that ran during it."""
    import torch

    cases = gpu_cases(torch)
    timed = {name: (fn, False) for name, fn in cases.items()}
    if pipelined > 0:
        timed.update({f"pipelined: {name}": (cases[name], True) for name in PIPELINED if name in cases})
    per_round: dict[str, list[float]] = {k: [] for k in timed}
    for _ in range(rounds):
        for name, (fn, loop) in timed.items():
            ms = _timing.cuda_pipelined_ms(fn, pipelined) if loop else _timing.cuda_median_ms(fn, runs)
            per_round[name].append(ms * 1e3)
    return {k: statistics.median(v) for k, v in per_round.items()}, per_round


def cpu_overhead(calls: int) -> dict[str, float]:
    warp, paste = profile_overhead.cpu_cases(calls)
    rows = {}
    for what, st in (("64x64 warp", warp), ("paste 64x64 into 256x256", paste)):
        rows[f"cpu {what}: kernel call"] = st[profile_overhead.KERNEL]
        for k, v in profile_overhead.overheads(st).items():
            rows[f"cpu {what}: overhead {k}"] = v
    return rows


def _range(values: list[float] | None) -> str:
    return "" if not values else f"{min(values):.1f}-{max(values):.1f}"


def main() -> int:
    ap = _timing.arguments(__doc__, cpu_runs=None)
    ap.add_argument("--cpu-calls", type=int, default=20000)
    ap.add_argument("--rounds", type=int, default=5, help="interleaved rounds of every GPU row (median reported)")
    ap.add_argument("--pipelined", type=int, default=200,
                    help="calls back to back per pipelined row (0: no pipelined rows)")
    args = ap.parse_args()
    rows = cpu_overhead(args.cpu_calls)
    torch = _timing.cuda_torch()
    gpu = torch is not None
    spread: dict[str, list[float]] = {}
    if gpu:
        medians, spread = gpu_rows(args.runs, args.rounds, args.pipelined)
        rows.update(medians)
    else:
        print("no CUDA device visible: GPU rows and goals skipped", file=sys.stderr)
    _timing.print_table("bench_dispatch (us, median; GPU rows: median of the rounds, and their range)",
                        [{"row": k, "us": v, "rounds": _range(spread.get(k))} for k, v in rows.items()],
                        ["row", "us", "rounds"])

    goals: dict[str, str] = {}
    ratios: dict[str, float] = {}
    for name, (row, limit) in GOALS.items():
        if row not in rows or (isinstance(limit, tuple) and limit[0] not in rows):
            goals[name] = "SKIP"
            continue
        if isinstance(limit, tuple):
            ratio = rows[row] / rows[limit[0]]
            ratios[f"{row} / {limit[0]}"] = ratio
            goals[name] = "PASS" if ratio <= limit[1] else "FAIL"
        else:
            goals[name] = "PASS" if rows[row] <= limit else "FAIL"
    plain, prep = rows["cpu 64x64 warp: overhead plain"], rows["cpu 64x64 warp: overhead prepared"]
    goals[CPU_GOAL] = "PASS" if max(plain, prep) <= 5.0 else "FAIL"
    for k in ("warp", "paste", "face"):
        a, b = rows.get(f"{k} plain" if k != "face" else "face plain eager"), \
            rows.get(f"{k} prepared" if k != "face" else "face prepared eager")
        if a and b:
            ratios[f"{k}: prepared / plain"] = b / a
    if FLOOR_LAUNCH in rows:
        # what a call costs above the cheapest launch the same timing can see
        for k in ("warp prepared", "paste prepared", "warp plain", "paste plain"):
            ratios[f"{k} - no-op launch (us)"] = rows[k] - rows[FLOOR_LAUNCH]
    for a, b in PIPELINED_RATIOS:
        if f"pipelined: {a}" in rows and f"pipelined: {b}" in rows:
            ratios[f"pipelined: {a} / {b}"] = rows[f"pipelined: {a}"] / rows[f"pipelined: {b}"]
    if ratios:
        _timing.print_table("ratios", [{"ratio": k, "value": v} for k, v in ratios.items()], ["ratio", "value"])
    _timing.print_table("issue 17 goals", [{"goal": k, "result": v} for k, v in goals.items()], ["goal", "result"])
    _timing.save_json(args.json, {"machine": _timing.machine(), "rows_us": rows, "ratios": ratios, "goals": goals,
                                  "runs": args.runs, "rounds": args.rounds, "pipelined_calls": args.pipelined,
                                  "gpu_rounds_us": spread})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
