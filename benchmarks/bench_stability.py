"""Benchmark ffaccel.stability against ground truth (issue 4, section 6).

Run: ``PYTHONPATH=src python3 benchmarks/bench_stability.py [--seeds 3] [--frames 150]``
Prints Markdown (the tables of docs/results/stability_synthetic.md). Everything is seeded; only
the timing section changes between runs and machines.

Methods: raw detector output; EMA(0.25); One Euro with (min_cutoff, beta)
tuned by a grid on a separate seed (least mean jitter over still, slow pan,
fast turn and shaky with mean ramp lag <= 1 frame); ours causal
(``TemporalSmoother()`` defaults); ours offline (``smooth_track`` defaults).
For tail spikes "ours" runs through ``EndOfSequenceGuard()``; the baselines
do not have one (their unguarded and our unguarded counts are shown too).
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))  # tools/ (training data)

from ffaccel.stability import (
    EndOfSequenceGuard,
    FaceTracker,
    OneEuroFilter,
    PoseFilter,
    TemporalSmoother,
    refine_heatmap_landmarks,
    smooth_track,
)
from ffaccel.stability._scenarios import (
    GRID_BETA,
    GRID_CUTOFF,
    SCENARIOS,
    PlainEMA,
    add_noise,
    make_scenario,
    metrics,
    run_causal,
    tail_spikes,
    tune_one_euro,
)
from tools.synth_heatmaps import synthetic_heatmaps  # noqa: E402

METHODS = ("raw", "ema0.25", "one_euro", "ours_causal", "ours_offline")


def run_method(method: str, sc, measured: np.ndarray, one_euro: tuple[float, float]) -> np.ndarray:
    z = measured.copy()
    z[sc.dropped] = np.nan
    if method == "raw":
        return z
    if method == "ema0.25":
        return run_causal(lambda: PlainEMA(0.25), measured, sc.dropped)
    if method == "one_euro":
        return run_causal(lambda: OneEuroFilter(*one_euro), measured, sc.dropped)
    if method == "ours_causal":
        return run_causal(TemporalSmoother, measured, sc.dropped)
    if method == "ours_offline":
        return smooth_track(z)
    raise ValueError(method)


def evaluate(frames: int, seeds: int, sigma: float, model: str, one_euro) -> dict:
    """Mean of each metric over seeds: {scenario: {method: {metric: value}}}."""
    out: dict = {}
    for name in SCENARIOS:
        acc: dict = {m: {} for m in METHODS}
        for seed in range(seeds):
            sc = make_scenario(name, frames, seed)
            rng = np.random.default_rng(10_000 + 97 * seed + SCENARIOS.index(name))
            z = add_noise(sc.truth, model, sigma, rng)
            for method in METHODS:
                res = run_method(method, sc, z, one_euro)
                m = metrics(res, sc)
                if name == "tail":
                    m["spikes_unguarded"] = tail_spikes(res, sc.truth, sc.tail_frames)
                    guard = EndOfSequenceGuard(tail_frames=sc.tail_frames) if method.startswith("ours") else None
                    m["spikes"] = tail_spikes(res, sc.truth, sc.tail_frames, guard)
                for k, v in m.items():
                    acc[method].setdefault(k, []).append(v)
        out[name] = {m: {k: float(np.mean(v)) for k, v in d.items()} for m, d in acc.items()}
    return out


def fmt(v: float | None, digits: int = 3) -> str:
    if v is None:
        return "-"
    return f"{v:.{digits}f}" if np.isfinite(v) else "inf"


def table_main(res: dict) -> list[str]:
    lines = ["| scenario | method | jitter px | lag frames | RMSE px | cut recovery frames | tail spikes (unguarded) |", "|---|---|---|---|---|---|---|"]
    for name, per in res.items():
        for method, m in per.items():
            spikes = "-" if "spikes" not in m else f"{m['spikes']:.2f} ({m['spikes_unguarded']:.2f})"
            lines.append(
                f"| {name} | {method} | {fmt(m['jitter'])} | {fmt(m.get('lag'), 2)} | {fmt(m['rmse'])} | "
                f"{fmt(m.get('recovery'), 1)} | {spikes} |"
            )
    return lines


def goals(res: dict, fhr_rmse: float, dark_rmse: float) -> list[str]:
    main = ("still", "slow_pan", "fast_turn", "shaky", "dropouts")
    ramps = ("slow_pan", "fast_turn", "dropouts")
    lines = ["| goal | mode | measured | met |", "|---|---|---|---|"]
    for ours in ("ours_causal", "ours_offline"):
        ratios = [res[s]["raw"]["jitter"] / res[s][ours]["jitter"] for s in main]
        lag = max(abs(res[s][ours]["lag"]) for s in ramps)
        ok = min(ratios) >= 5.0 and lag <= 1.0
        lines.append(f"| jitter cut >= 5x vs raw, lag <= 1 frame (sigma 1.5) | {ours} | min ratio {min(ratios):.2f}x, max lag {lag:.2f} | {'yes' if ok else 'NO'} |")
        for base in ("ema0.25", "one_euro"):
            worse = [s for s in main if res[s][ours]["jitter"] >= res[s][base]["jitter"]]
            laggier = [s for s in ramps if abs(res[s][ours]["lag"]) > abs(res[s][base]["lag"]) + 1e-9]
            detail = "less jitter in every scenario" if not worse else "more or equal jitter in " + ", ".join(worse)
            detail += "; lag <= baseline on every ramp" if not laggier else "; more lag in " + ", ".join(laggier)
            lines.append(f"| beats {base} on jitter at <= lag | {ours} | {detail} | {'yes' if not worse and not laggier else 'NO'} |")
        rec = res["cut"][ours]["recovery"]
        lines.append(f"| cut recovery <= 1 frame | {ours} | {rec:.1f} frames | {'yes' if rec <= 1 else 'NO'} |")
        sp = res["tail"][ours]["spikes"]
        lines.append(f"| zero tail spikes (with guard) | {ours} | {sp:.2f} per clip | {'yes' if sp == 0 else 'NO'} |")
    ratio = fhr_rmse / dark_rmse
    lines.append(f"| fhr RMSE <= 0.6x DARK | - | {fhr_rmse:.4f} / {dark_rmse:.4f} = {ratio:.3f}x | {'yes' if ratio <= 0.6 else 'NO'} |")
    return lines


def subpixel_table(count: int = 4000, seed: int = 7) -> tuple[list[str], dict]:
    maps, centre = synthetic_heatmaps(count, np.random.default_rng(seed))
    lines = ["| method | RMSE px | median px | 95th pct px |", "|---|---|---|---|"]
    rm = {}
    for method in ("argmax", "quarter", "dark", "fhr"):
        xy, _ = refine_heatmap_landmarks(maps[:, None], method)
        err = np.hypot(*(xy[:, 0] - centre).T)
        rm[method] = float(np.sqrt(np.mean(err**2)))
        lines.append(f"| {method} | {rm[method]:.4f} | {np.median(err):.4f} | {np.percentile(err, 95):.4f} |")
    return lines, rm


def _time_us(fn, repeats: int) -> float:
    fn()
    samples = []
    for _ in range(5):
        t0 = time.perf_counter()
        for _ in range(repeats):
            fn()
        samples.append((time.perf_counter() - t0) / repeats * 1e6)
    return float(np.median(samples))


def timing_table() -> list[str]:
    rng = np.random.default_rng(0)
    sc = make_scenario("slow_pan", 150, 0)
    z = add_noise(sc.truth, "gauss", 1.5, rng)
    rows = []
    for name, factory in (
        ("TemporalSmoother", TemporalSmoother),
        ("TemporalSmoother(per_landmark=True)", lambda: TemporalSmoother(per_landmark=True)),
        ("OneEuroFilter", OneEuroFilter),
        ("PoseFilter (incl. pose estimate)", PoseFilter),
    ):
        flt = factory()
        it = iter(range(10**9))
        rows.append((name, _time_us(lambda: flt.update(z[next(it) % 150]), 300), _state(flt)))
    rows.append(("smooth_track (per frame of a 150-frame track)", _time_us(lambda: smooth_track(z), 3) / 150, None))
    guard = EndOfSequenceGuard(total_frames=10**9)
    mat = np.array([[0.8, 0.01, 10.0], [-0.01, 0.8, 20.0]])
    it2 = iter(range(10**9))
    rows.append(("EndOfSequenceGuard (tail frame)", _time_us(lambda: guard.update(mat, 10**9 - 1 - (next(it2) % 2)), 1000), None))
    tracker = FaceTracker(filter_factory=TemporalSmoother)
    boxes = np.array([[100.0, 100.0, 300.0, 300.0], [500.0, 100.0, 700.0, 300.0], [100.0, 500.0, 300.0, 700.0], [500.0, 500.0, 700.0, 700.0]])
    lms = np.stack([z[0] - z[0].mean(0) * 0 + off for off in (0.0, 400.0, 800.0, 1200.0)])
    it3 = iter(range(10**9))
    rows.append(("FaceTracker + TemporalSmoother, 4 faces (per face)", _time_us(lambda: tracker.update(boxes, lms + 0.1 * (next(it3) % 3)), 200) / 4, None))
    maps, _ = synthetic_heatmaps(68, np.random.default_rng(1))
    for method in ("argmax", "quarter", "dark", "fhr"):
        rows.append((f"refine_heatmap_landmarks {method} (one face, 68x64x64)", _time_us(lambda m=method: refine_heatmap_landmarks(maps[None], m), 20), None))
    lines = ["| operation | us per face per frame | state bytes per face |", "|---|---|---|"]
    for name, us, state in rows:
        lines.append(f"| {name} | {us:.1f} | {'-' if state is None else state} |")
    return lines


def _state(flt) -> int:
    return int(flt.state_nbytes)


def machine() -> str:
    cpu = platform.processor() or "unknown CPU"
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return (
        f"{cpu}, {os.cpu_count()} logical CPUs, Python {platform.python_version()}, numpy {np.__version__}, "
        f"{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--frames", type=int, default=150)
    parser.add_argument("--no-timing", action="store_true")
    args = parser.parse_args()
    print(f"Machine: {machine()}; {args.seeds} seeds x {args.frames} frames per scenario.\n")
    oe, info = tune_one_euro(args.frames)
    print(
        f"One Euro grid ({len(GRID_CUTOFF)}x{len(GRID_BETA)}, seed 1000): min_cutoff={oe[0]} Hz, beta={oe[1]}; "
        f"tuning-set mean jitter {info['jitter']:.3f} px, mean ramp lag {info['lag']:.2f} frames"
        f"{'' if info['met_lag_budget'] else ' (no grid point met lag <= 1; least lag taken)'}.\n"
    )
    res = evaluate(args.frames, args.seeds, 1.5, "gauss", oe)
    print("### All scenarios, Gaussian noise sigma = 1.5 px\n")
    print("\n".join(table_main(res)) + "\n")
    print("### Noise sweep: jitter px (mean over still, slow_pan, fast_turn, shaky, dropouts) / mean |lag| frames on ramps\n")
    models = [("gauss", s) for s in (0.5, 1.0, 1.5, 2.0, 3.0)] + [("quantized", 0.0), ("outliers", 1.5)]
    header = "| method | " + " | ".join(f"{m} {s}" if m != "quantized" else "quantized 2px" for m, s in models) + " |"
    lines = [header, "|---|" + "---|" * len(models)]
    sweep = {m: [] for m in METHODS}
    for model, sigma in models:
        r = evaluate(args.frames, max(1, args.seeds - 1), sigma, model, oe)
        for method in METHODS:
            jit = np.mean([r[s][method]["jitter"] for s in ("still", "slow_pan", "fast_turn", "shaky", "dropouts")])
            lag = np.mean([abs(r[s][method]["lag"]) for s in ("slow_pan", "fast_turn", "dropouts")])
            sweep[method].append(f"{jit:.3f} / {lag:.2f}")
    for method in METHODS:
        lines.append(f"| {method} | " + " | ".join(sweep[method]) + " |")
    print("\n".join(lines) + "\n")
    print("### Sub-pixel refinement, 4000 synthetic heatmaps (seed 7)\n")
    sub, rm = subpixel_table()
    print("\n".join(sub) + "\n")
    print("### Goals (sigma = 1.5 px)\n")
    print("\n".join(goals(res, rm["fhr"], rm["dark"])) + "\n")
    if not args.no_timing:
        print("### Cost per face per frame (68 landmarks; median of 5 runs)\n")
        print("\n".join(timing_table()) + "\n")


if __name__ == "__main__":
    main()
