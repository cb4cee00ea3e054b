"""Shots that end (or start) in motion: the offline stabiliser on real detector tracks cut
at every frame.

The real-detector benchmark's clips (bench_stability_real.py) all start and end at rest, so
they never show what a shot that ends in the middle of a fast nod gets. That is common: a
cut, the end of a clip, a face that leaves the frame. Here every nod, turn and shaky clip is
cut at every second frame, keeping its first L frames (side "end") or its last L (side
"start"), L = 24 .. T, and ``stabilize_track(mode="offline")`` runs on the piece. The score
of a piece is the worst error, in % of the face width F, over its 3 frames at the cut side
(mean distance of the 5 points from the truth), for the raw detections and for the output.

    PYTHONPATH=src python3 benchmarks/bench_shot_ends.py --tracks DIR [--json F] [--plot F]

DIR holds .npz tracks written by ``bench_stability_real.py --export`` (truth, detected,
face_width, scenario); tests/data/real_tracks (a small float32 subset) works too.
"""

from __future__ import annotations

import os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from ffaccel.stability import stabilize_track

SCENARIOS = ("nod", "turn", "shaky")
EDGE = 3  # frames scored at the cut side
MIN_LEN = 24


def error_pct(points: np.ndarray, truth: np.ndarray, face_width: float) -> np.ndarray:
    """(T,) mean distance of the points from the truth, % of the face width."""
    return np.linalg.norm(points - truth, axis=-1).mean(axis=-1) / face_width * 100.0


def pieces(t_len: int):
    """(side, slice) of every piece: the first L frames ("end") and the last L ("start")."""
    for side in ("end", "start"):
        for n in range(MIN_LEN, t_len + 1, 2):
            yield side, slice(0, n) if side == "end" else slice(t_len - n, t_len)


def score_track(path: Path) -> list[dict]:
    d = np.load(path)
    det = np.ascontiguousarray(d["detected"], np.float64)
    truth = np.asarray(d["truth"], np.float64)
    face = float(d["face_width"])
    rows = []
    for side, sl in pieces(len(det)):
        piece = det[sl]
        edge = slice(-EDGE, None) if side == "end" else slice(0, EDGE)
        if np.isnan(piece[edge, 0, 0]).any():
            continue  # a missed frame at the cut side: nothing to score there
        out = stabilize_track(piece, mode="offline")
        rows.append({"clip": path.stem, "side": side, "frames": sl.stop - sl.start,
                     "raw": float(error_pct(piece[edge], truth[sl][edge], face).max()),
                     "offline": float(error_pct(out[edge], truth[sl][edge], face).max())})
    return rows


def summary(rows: list[dict]) -> list[dict]:
    out = []
    for sc in (*SCENARIOS, "all"):
        sel = [r for r in rows if sc == "all" or r["clip"].startswith(sc + "_")]
        if not sel:
            continue
        raw = np.array([r["raw"] for r in sel])
        off = np.array([r["offline"] for r in sel])
        out.append({"scenario": sc, "pieces": len(sel),
                    "raw_mean": raw.mean(), "raw_max": raw.max(), "raw_over_5": int((raw > 5).sum()),
                    "offline_mean": off.mean(), "offline_p99": float(np.percentile(off, 99)), "offline_max": off.max(),
                    "offline_over_5": int((off > 5).sum()), "worse_than_raw_by_2": int((off - raw > 2).sum())})
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tracks", required=True, help="folder of .npz tracks (bench_stability_real.py --export)")
    ap.add_argument("--json", default=None, help="write every piece's scores and the summary here")
    ap.add_argument("--plot", default=None, help="write a plot (PNG) of offline against raw per piece here")
    ap.add_argument("--before", default=None, metavar="JSON",
                    help="another build's --json output on the same tracks: plotted in a panel of its own, on the left")
    ap.add_argument("--labels", default="before,this build", help="the two panels' titles, comma-separated")
    args = ap.parse_args()
    files = sorted(p for sc in SCENARIOS for p in Path(args.tracks).glob(f"{sc}_*.npz"))
    if not files:
        print(f"no {'/'.join(SCENARIOS)} tracks in {args.tracks}", file=sys.stderr)
        return 2
    t0 = time.perf_counter()
    rows = []
    for k, f in enumerate(files, 1):
        rows += score_track(f)
        print(f"\r{k}/{len(files)} tracks", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    table = summary(rows)
    print(f"shots cut at every frame: {len(rows)} pieces of {len(files)} tracks ({args.tracks}), "
          f"worst error over the {EDGE} frames at the cut, % F, {time.perf_counter() - t0:.0f} s")
    print(f"{'scenario':9s} {'pieces':>6s} | {'raw mean':>8s} {'max':>6s} {'>5%F':>5s} | "
          f"{'offline mean':>12s} {'p99':>6s} {'max':>6s} {'>5%F':>5s} {'raw+2%F':>8s}")
    for t in table:
        print(f"{t['scenario']:9s} {t['pieces']:6d} | {t['raw_mean']:8.2f} {t['raw_max']:6.2f} {t['raw_over_5']:5d} | "
              f"{t['offline_mean']:12.2f} {t['offline_p99']:6.2f} {t['offline_max']:6.2f} {t['offline_over_5']:5d} "
              f"{t['worse_than_raw_by_2']:8d}")
    print("raw+2%F: pieces whose offline error exceeds the raw detections' by more than 2 % F")
    if args.json:
        Path(args.json).write_text(json.dumps({"tracks": str(args.tracks), "summary": table, "pieces": rows}, indent=1))
    if args.plot:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        panels = [rows]
        if args.before:
            panels.insert(0, json.loads(Path(args.before).read_text())["pieces"])
        names = args.labels.split(",") if args.before else ["stabilize_track offline"]
        top = max(max(r[k] for r in p for k in ("raw", "offline")) for p in panels) * 1.05
        fig, axes = plt.subplots(1, len(panels), figsize=(6 * len(panels), 5), squeeze=False)
        for ax, p, name in zip(axes[0], panels, names):
            for side, mk in (("end", "o"), ("start", "^")):
                sel = [r for r in p if r["side"] == side]
                ax.scatter([r["raw"] for r in sel], [r["offline"] for r in sel], s=6, marker=mk, alpha=0.4,
                           label=f"shot {'ends' if side == 'end' else 'starts'} at the cut")
            ax.plot([0, top], [0, top], "k--", lw=0.8, label="offline = raw")
            ax.set_xlim(0, top)
            ax.set_ylim(0, top)
            ax.set_xlabel(f"raw detections: worst error over the {EDGE} frames at the cut (% F)")
            ax.set_ylabel("stabilize_track offline (% F)")
            ax.set_title(f"{name}: shots cut mid-motion, real MTCNN tracks", fontsize=10)
            ax.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(args.plot, dpi=110)
    return 0


if __name__ == "__main__":
    sys.exit(main())
