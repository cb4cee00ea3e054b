"""The table (and, with --plot, a chart) of a `compare_builds.sh` run: every timed row, per
build, the median of the rounds and each round's value.

    python3 benchmarks/compare_table.py FOLDER BUILD [BUILD ...]
    python3 benchmarks/compare_table.py FOLDER base off --plot out.png --rows "face graph;4K ffaccel InsightfacePlan"

FOLDER holds the run's JSON files, named BENCH_BUILD_ROUND.json (compare_builds.sh writes them
under $OUT/compare/); BUILD names the builds, in the order of the columns. The table is
Markdown on stdout (compare_builds.sh prints it last). --plot draws the rows whose name holds
one of the --rows parts (separated by ';': row names hold commas), one group of bars per row, one bar per build (the
median of the rounds; a dot per round), and needs matplotlib. --labels "base=...;off=..."
renames the builds in the chart's legend.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import statistics
import sys


def rows(bench: str, d: dict) -> dict[str, float]:
    """{row name: microseconds} of one benchmark's JSON."""
    if bench == "insightface":
        return {f"{r['frame']} {r['impl']} (us)": r["median_ms"] * 1e3 for r in d["rows"]}
    if bench == "kernels":
        return {f"{r['case']} | {r['kernel'] or '?'} (device us)": r["device_us_per_call"] for r in d["rows"]}
    if bench == "profile":  # every "<path>_us" table of stages: host time per call
        return {f"{table}: {stage} (us)": v for table, stages in d.items()
                if table.endswith("_us") and isinstance(stages, dict) for stage, v in stages.items()}
    return {f"{k} (us)": v for k, v in d["rows_us"].items()}


def collect(folder: str) -> dict[tuple[str, str], dict[str, list[float]]]:
    """{(benchmark, row): {build: [value of each round, in round order]}}."""
    table: dict[tuple[str, str], dict[str, list[float]]] = {}
    paths = glob.glob(os.path.join(folder, "*_*_*.json"))
    # rounds in numeric order (round 10 after round 9)
    def key(path: str) -> tuple[str, int]:
        stem, k = os.path.basename(path)[:-5].rsplit("_", 1)
        return stem, int(k) if k.isdigit() else -1
    for path in sorted(paths, key=key):
        bench, rest = os.path.basename(path)[:-5].split("_", 1)
        name, _ = rest.rsplit("_", 1)
        with open(path) as fh:
            for row, value in rows(bench, json.load(fh)).items():
                table.setdefault((bench, row), {}).setdefault(name, []).append(value)
    return table


def markdown(table: dict, names: list[str]) -> str:
    lines = ["| benchmark | row | " + " | ".join(names) + " |", "|---|---|" + "---|" * len(names)]
    for (bench, row), by_name in table.items():
        cells = []
        for n in names:
            v = by_name.get(n, [])
            cells.append(f"{statistics.median(v):.2f} ({', '.join(f'{x:.2f}' for x in v)})" if v else "-")
        lines.append(f"| {bench} | {row} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def plot(table: dict, names: list[str], parts: list[str], labels: dict[str, str], path: str, title: str) -> int:
    """Grouped horizontal bars of the rows matching ``parts``; returns how many rows it drew."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    chosen = [(b, r) for (b, r) in table if any(p in r for p in parts)]
    if not chosen:
        raise SystemExit(f"--rows: no row holds any of {parts}")
    height = 0.8 / len(names)
    fig, ax = plt.subplots(figsize=(10, 1.2 + 0.55 * len(chosen) * max(1.0, len(names) / 3)))
    for j, name in enumerate(names):
        ys, meds, dots_y, dots_x = [], [], [], []
        for i, key in enumerate(chosen):
            v = table[key].get(name, [])
            if not v:
                continue
            y = i + (j - (len(names) - 1) / 2) * height
            ys.append(y)
            meds.append(statistics.median(v))
            dots_y += [y] * len(v)
            dots_x += v
        ax.barh(ys, meds, height=height * 0.9, label=labels.get(name, name))
        ax.scatter(dots_x, dots_y, s=8, color="black", zorder=3)
        for y, m in zip(ys, meds):
            ax.text(m, y, f" {m:.1f}", va="center", fontsize=7)
    ax.set_yticks(range(len(chosen)), [r.replace(" (us)", "") for _, r in chosen], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("microseconds per call (bar: median of the rounds; dots: each round)")
    ax.set_xlim(0, ax.get_xlim()[1] * 1.08)  # room for the value labels
    ax.set_title(title, fontsize=9)
    # below the axes, so that no bar hides under it
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=min(len(names), 3), frameon=False)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return len(chosen)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folder")
    ap.add_argument("builds", nargs="+")
    ap.add_argument("--plot", metavar="PNG")
    ap.add_argument("--rows", default="", help="parts of the row names to draw, separated by ';'")
    ap.add_argument("--labels", default="", help="BUILD=legend label, separated by ';'")
    ap.add_argument("--title", default="")
    args = ap.parse_args(argv)
    table = collect(args.folder)
    if not table:
        raise SystemExit(f"{args.folder}: no BENCH_BUILD_ROUND.json files")
    print(markdown(table, args.builds))
    if args.plot:
        labels = dict(p.strip().split("=", 1) for p in args.labels.split(";") if "=" in p)
        parts = [p.strip() for p in args.rows.split(";") if p.strip()]
        if not parts:
            raise SystemExit("--plot needs --rows")
        n = plot(table, args.builds, parts, labels, args.plot, args.title)
        print(f"wrote {args.plot} ({n} rows)", file=sys.stderr)


if __name__ == "__main__":
    main()
