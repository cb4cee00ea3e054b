"""Plot host-memory growth against calls from memory_check.py logs (its progress lines).

    python benchmarks/plot_memory_growth.py LABEL=LOG [LABEL=LOG ...] --out growth.png [--only a,b]

Each progress line ``  op: k/N calls, s s, RSS +x MiB, device +y MiB`` becomes a point
(k, x) of the curve "LABEL: op"; ``--only`` keeps the ops whose name contains one of the
given parts. A leak is a line that keeps rising; a flat line is what memory_check.py's
8 MiB limit asks for, drawn dashed. Needs matplotlib.
"""

from __future__ import annotations

import argparse
import re
import sys

PROGRESS = re.compile(r"^\s+(?P<op>\S+): (?P<k>\d+)/(?P<n>\d+) calls, [\d.]+ s, RSS (?P<rss>[+-][\d.]+) MiB")


def curves(path: str, label: str, only: list[str]) -> dict[str, list[tuple[int, float]]]:
    """``{"label: op": [(calls, RSS growth MiB), ...]}`` from one log, sorted by calls."""
    found: dict[str, list[tuple[int, float]]] = {}
    with open(path) as fh:
        for line in fh:
            m = PROGRESS.match(line)
            if m and (not only or any(part in m["op"] for part in only)):
                found.setdefault(f"{label}: {m['op']}", []).append((int(m["k"]), float(m["rss"])))
    return {name: sorted(points) for name, points in found.items()}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("logs", nargs="+", help="LABEL=LOG: a memory_check.py log and its legend label")
    ap.add_argument("--out", required=True, help="PNG to write")
    ap.add_argument("--only", default="", help="comma-separated op name parts to keep")
    ap.add_argument("--limit-mib", type=float, default=8.0)
    a = ap.parse_args(argv)
    only = [p for p in a.only.split(",") if p]
    series: dict[str, list[tuple[int, float]]] = {}
    for spec in a.logs:
        label, sep, path = spec.partition("=")
        if not sep:
            ap.error(f"expected LABEL=LOG, got {spec!r}")
        series.update(curves(path, label, only))
    if not series:
        print("plot_memory_growth: no progress lines in the logs", file=sys.stderr)
        return 1
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.5, 4.2))
    for name, points in series.items():
        ax.plot([k for k, _ in points], [v for _, v in points], marker=".", label=name)
    ax.axhline(a.limit_mib, color="grey", linestyle="--", linewidth=1, label=f"memory_check limit ({a.limit_mib:g} MiB)")
    ax.set_xlabel("calls")
    ax.set_ylabel("host RSS growth (MiB)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(a.out, dpi=110)
    print(f"wrote {a.out} ({len(series)} curves)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
