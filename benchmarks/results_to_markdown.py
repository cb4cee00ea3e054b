"""Render the JSON files a benchmark run wrote as markdown tables, for docs/benchmarks.md.

    python benchmarks/results_to_markdown.py RESULTS_DIR --title "H200, commit abc1234, 2026-11-22"

Reads whichever of bench_warp.json, bench_paste.json, bench_composite.json,
bench_runtime.json, bench_blend.json, bench_quality.json, bench_dispatch.json,
profile_overhead.json, kernel_times.json and bench_insightface*.json are in RESULTS_DIR, and prints markdown. The figures are copied from the JSON, never typed by hand.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any


def _fmt(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, bool):
        return "met" if v else "NOT met"
    if isinstance(v, float):
        return f"{v:.3g}" if abs(v) < 1000 else f"{v:.0f}"
    return str(v)


def table(rows: list[dict[str, Any]], columns: list[str]) -> str:
    out = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for r in rows:
        out.append("| " + " | ".join(_fmt(r.get(c, "")) for c in columns) + " |")
    return "\n".join(out)


def rows_section(name: str, data: dict[str, Any]) -> str:
    rows = data.get("rows", [])
    for r in rows:
        if "median_us" not in r and "median_ms" in r:
            r["median_us"] = r["median_ms"] * 1e3
    cols = [c for c in ("path", "case", "impl", "crops", "faces", "median_us") if any(c in r for r in rows)]
    parts = [f"### {name}", "", table(rows, cols)]
    ratios = data.get("ratios", {})
    if ratios:
        parts += ["", table([{"ratio": k, "value": v} for k, v in ratios.items()], ["ratio", "value"])]
    return "\n".join(parts)


def runtime_section(data: dict[str, Any]) -> str:
    res = data["results"]
    rows = [{"mode": k, **v} for k, v in res.items()]
    cols = ["mode", "faces_per_call", "latency_ms_median", "ms_per_face", "faces_per_s"]
    goals = [{"goal": k, "result": v} for k, v in data.get("goals", {}).items()]
    checks = [{"check": k, "result": "ok" if v else "FAILED"} for k, v in data.get("checks", {}).items()]
    parts = ["### bench_runtime (stand-in swapper)", "", table(rows, cols), "",
             table([{"ratio": k, "value": v} for k, v in data.get("ratios", {}).items()], ["ratio", "value"])]
    if goals:
        parts += ["", table(goals, ["goal", "result"])]
    if checks:
        parts += ["", table(checks, ["check", "result"])]
    return "\n".join(parts)


def dispatch_section(data: dict[str, Any]) -> str:
    """bench_dispatch.json: per-call medians (us), ratios, and the issue-17 verdicts."""
    rows = [{"row": k, "median_us": v} for k, v in data.get("rows_us", {}).items()]
    parts = ["### bench_dispatch (CUDA events around one Python call; CPU rows: host time)", "",
             table(rows, ["row", "median_us"])]
    if data.get("ratios"):
        parts += ["", table([{"ratio": k, "value": v} for k, v in data["ratios"].items()], ["ratio", "value"])]
    if data.get("goals"):
        parts += ["", table([{"goal": k, "result": v} for k, v in data["goals"].items()], ["goal", "result"])]
    return "\n".join(parts)


def profile_section(data: dict[str, Any]) -> str:
    """profile_overhead.json: host time per stage of one call (us), CPU and GPU paths."""
    parts = ["### profile_overhead (host time per stage of one call, median)"]
    for key, title in (("cpu_us", "CPU path, 64x64 warp"), ("cpu_paste_us", "CPU path, 64x64 paste"),
                       ("gpu_us", "GPU path (torch), 1080p -> 512 warp"),
                       ("gpu_paste_us", "GPU path (torch), 512 crop pasted into 1080p")):
        if data.get(key):
            rows = [{"stage": k, "us": v} for k, v in data[key].items()]
            parts += ["", f"{title}:", "", table(rows, ["stage", "us"])]
    return "\n".join(parts)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("results", type=Path)
    ap.add_argument("--title", required=True)
    args = ap.parse_args()
    print(f"## {args.title}\n")
    for name in ("bench_warp", "bench_paste", "bench_composite", "bench_blend", "bench_quality"):
        path = args.results / f"{name}.json"
        if path.exists():
            data = json.loads(path.read_text())
            machine = data.get("machine")
            print(rows_section(name, data))
            if machine:
                print(f"\n_machine: {json.dumps(machine)}_")
            print()
    path = args.results / "bench_facefusion.json"
    if path.exists():
        data = json.loads(path.read_text())
        rows = data["per_face"]
        cols = [c for c in ("frame", "crop", "stock_ms", "exact_ms", "fast_ms", "fast_cuda_ms", "exact_x", "fast_x",
                            "fast_cuda_x") if any(c in r for r in rows)]
        print("### bench_facefusion (warp + box mask + paste per face, stock FaceFusion vs the adapter)\n")
        print(table(rows, cols))
        print()
        print(table(data["fast_vs_stock"], ["output", "max", "mean", "share_differing"]))
        print()
    for path in sorted(args.results.glob("bench_insightface*.json")):
        data = json.loads(path.read_text())
        rows = data["rows"]
        cols = [c for c in ("path", "frame", "impl", "median_ms", "ratio", "exact") if any(c in r for r in rows)]
        print(f"### {path.stem} (cv2 {data.get('opencv', '?')}, {data.get('clock', '')})\n")
        print(table(rows, cols))
        print()
    path = args.results / "bench_dispatch.json"
    if path.exists():
        print(dispatch_section(json.loads(path.read_text())))
        print()
    path = args.results / "profile_overhead.json"
    if path.exists():
        print(profile_section(json.loads(path.read_text())))
        print()
    path = args.results / "kernel_times.json"
    if path.exists():
        rows = json.loads(path.read_text())["rows"]
        print("### kernel_times (device time per call, torch.profiler)\n")
        print(table(rows, ["case", "kernel", "launches_per_call", "device_us_per_call"]))
        print()
    path = args.results / "bench_runtime.json"
    if path.exists():
        print(runtime_section(json.loads(path.read_text())))
        print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
