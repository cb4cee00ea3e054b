"""What bounding the causal mode's output to its detections would cost and give (issue 13).

``stabilize_track(det, mode="causal")`` on the saved real MTCNN tracks of the frontal photos
(astronaut, Hopper), then ``real/deviation_bound.py``'s bound at each k of ``--k``: per
scenario, jitter (raw / method: the mean over the clips, and the least single clip), RMSE
(% of the face width F, mean over the clips), abs lag (frames, the largest) and, on the fast
nods, the worst frame (% F, the largest). Metrics are the benchmark's own
(``ffaccel.stability._realdata``). The cameraman clips are left out, as in the goal rows.

    PYTHONPATH=src python3 benchmarks/study_causal_bound.py --tracks DIR [--k 2,3,4] [--json OUT] [--plot PNG]

``--plot`` (matplotlib) draws both sides of the trade: per scenario, the jitter reduction
against k (the causal mode alone at the left), and the fast nods' worst frame beside raw's.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from real import clips as rc  # noqa: E402
from real import dataset  # noqa: E402
from real.deviation_bound import bound_to_detections  # noqa: E402

from ffaccel.stability import _realdata as rd  # noqa: E402
from ffaccel.stability import stabilize_track  # noqa: E402

FRONTAL = ("astronaut", "hopper")


def clip_metrics(out: np.ndarray, clip: dict) -> dict:
    truth, cuts = clip["truth"], clip["cuts"]
    m = {"jitter": rd.jitter(out, truth, cuts), "rmse": rd.rmse(out, truth), "lag": rd.lag(out, truth, cuts)}
    if rc.motion(clip["scenario"]) == "nod":
        m["worst_nod"] = rd.worst(out, truth, slice(*rc.NOD))
    return m


def load(folder: Path) -> list[dict]:
    """The frontal-photo tracks of ``folder`` (dataset.saved_tracks)."""
    clips = [c for c in dataset.saved_tracks(folder) if c["photo"] in FRONTAL]
    if not clips:
        raise SystemExit(f"--tracks: no frontal-photo tracks (.npz) in {folder}")
    return clips


def study(clips: list[dict], ks: list[float], progress=None) -> dict:
    """{scenario: {method: [per-clip metrics]}}, methods raw, causal and bound k=..."""
    rows: dict = {}
    for i, clip in enumerate(clips):
        det = clip["det"]
        causal = stabilize_track(det, mode="causal")
        outs = {"raw": det, "causal": causal}
        outs.update({f"bound k={k:g}": bound_to_detections(causal, det, k) for k in ks})
        for name, out in outs.items():
            rows.setdefault(clip["scenario"], {}).setdefault(name, []).append(clip_metrics(out, clip))
        if progress:
            progress(i + 1, len(clips))
    return rows


def summary(rows: dict) -> dict:
    """{scenario: {method: aggregated metrics}}."""
    res = {}
    for sc, methods in rows.items():
        raw = methods["raw"]
        for name, ms in methods.items():
            ratios = [r["jitter"] / m["jitter"] for r, m in zip(raw, ms)]
            lags = [abs(m["lag"]) for m in ms if np.isfinite(m["lag"])]
            agg = {"jitter_ratio_mean": float(np.mean([r["jitter"] for r in raw]) / np.mean([m["jitter"] for m in ms])),
                   "jitter_ratio_min": float(min(ratios)), "rmse": float(np.mean([m["rmse"] for m in ms])),
                   "abs_lag_max": float(max(lags)) if lags else None, "clips": len(ms)}
            if "worst_nod" in ms[0]:
                agg["worst_nod_max"] = float(max(m["worst_nod"] for m in ms))
            res.setdefault(sc, {})[name] = agg
    return res


def table(res: dict) -> list[str]:
    lines = ["| scenario | method | raw / jitter, mean (least clip) | RMSE % F | abs lag max | nod worst % F |",
             "|---|---|---|---|---|---|"]
    for sc in sorted(res):
        for name, a in res[sc].items():
            lag = "-" if a["abs_lag_max"] is None else f"{a['abs_lag_max']:.2f}"
            worst = f"{a['worst_nod_max']:.2f}" if "worst_nod_max" in a else "-"
            lines.append(f"| {sc} | {name} | {a['jitter_ratio_mean']:.2f}x ({a['jitter_ratio_min']:.2f}x) "
                         f"| {a['rmse']:.2f} | {lag} | {worst} |")
    return lines


def plot(res: dict, ks: list[float], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = ["causal"] + [f"bound k={k:g}" for k in ks]
    xs = list(range(len(names)))
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    for sc in sorted(res):
        left.plot(xs, [res[sc][n]["jitter_ratio_mean"] for n in names], marker="o", label=sc)
    left.axhline(3.0, color="k", ls=":", lw=1, label="causal goal: raw / 3")
    left.set_ylabel("raw jitter / method jitter (mean over clips)")
    left.set_yscale("log")
    nods = [sc for sc in sorted(res) if "worst_nod_max" in res[sc]["raw"]]
    for sc in nods:
        line = right.plot(xs, [res[sc][n]["worst_nod_max"] for n in names], marker="o", label=sc)
        right.axhline(res[sc]["raw"]["worst_nod_max"], color=line[0].get_color(), ls="--", lw=1,
                      label=f"{sc}: raw detections")
    right.set_ylabel("worst frame of the fast nod, % of face width")
    for ax in (left, right):
        ax.set_xticks(xs, ["off"] + [f"k={k:g}" for k in ks])
        ax.set_xlabel("bound on the output's distance to the detection (noise levels)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tracks", type=Path, required=True, help="folder of saved tracks (bench_stability_real --export)")
    ap.add_argument("--k", default="2,3,4", help="bounds to try, in noise levels, comma-separated")
    ap.add_argument("--json", type=Path, help="write the summary here")
    ap.add_argument("--plot", type=Path, help="draw the trade-off here (PNG; needs matplotlib)")
    args = ap.parse_args(argv)
    try:
        ks = [float(k) for k in args.k.split(",")]
    except ValueError:
        ap.error(f"--k: numbers separated by commas, got {args.k!r}")
    if any(k <= 0 for k in ks):
        ap.error("--k: every bound must be > 0")
    clips = load(args.tracks)

    def progress(done, total):
        if done % 20 == 0 or done == total:
            print(f"{done}/{total} clips", file=sys.stderr, flush=True)

    res = summary(study(clips, ks, progress))
    print("\n".join(table(res)))
    if args.json:
        args.json.write_text(json.dumps({"tracks": str(args.tracks.name), "k": ks, "scenarios": res}, indent=1))
    if args.plot:
        plot(res, ks, args.plot, f"causal mode, output bound to the detections: tracks {args.tracks.name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
