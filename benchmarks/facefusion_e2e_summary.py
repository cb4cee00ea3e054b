"""The stabilisation rows of ``bench_facefusion_e2e.py --json`` files: one table, one figure.

``--summary`` and ``--plot`` of benchmarks/bench_facefusion_e2e.py: for each run and FaceFusion
version, the pasted face's jitter about the truth and its worst frame, the exact variant (the
raw detections) against the stabilised one; the figure plots each run's error per frame.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np


def _docs(paths: list[Path]) -> list[dict]:
    """The runs of ``--json`` files: one run each, or ``{"runs": [...]}`` (several runs' files merged)."""
    docs = []
    for path in paths:
        doc = json.loads(Path(path).read_text())
        docs += doc["runs"] if "runs" in doc else [doc]
    return docs


def _pairs(paths: list[Path], key: str):
    """(run, FaceFusion version, config) of every configuration whose exact and stabilized
    jitter records both hold ``key``."""
    for doc in _docs(paths):
        for res in doc["results"]:
            for cfg in res["configs"].values():
                if all(key in cfg.get(v, {}).get("jitter", {}) for v in ("exact", "stabilized")):
                    yield doc, res["version"], cfg


def print_summary(paths: list[Path]) -> None:
    """One row per run and FaceFusion version: the pasted face's jitter about the truth and its
    worst frame, exact (raw detections) against stabilised, from ``--json`` files."""
    print("| motion | photo | frames at size | face px | FaceFusion | jitter about truth px, exact / stabilised | less "
          "| worst frame % F, exact / stabilised | worst / eye distance, stabilised | triples |")
    print("|" + "---|" * 10)
    for doc, version, cfg in _pairs(paths, "jitter_vs_truth_px"):
        real = doc.get("real", {})
        raw, st = cfg["exact"]["jitter"], cfg["stabilized"]["jitter"]
        print(f"| {doc.get('motion', 'demo')} | {real.get('photo', '-')} | {doc['frames']} at {doc['size']} "
              f"| {real.get('face_px', '-')} "
              f"| {version} | {raw['jitter_vs_truth_px']:.2f} / {st['jitter_vs_truth_px']:.2f} "
              f"| {raw['jitter_vs_truth_px'] / max(st['jitter_vs_truth_px'], 1e-9):.1f}x "
              f"| {100 * raw['error_max_over_face_width']:.2f} / {100 * st['error_max_over_face_width']:.2f} "
              f"| {st['error_max_over_eye']:.3f} | {st.get('triples', '-')} |")


def _case_of(doc: dict) -> tuple:
    real = doc.get("real", {})
    return doc.get("motion"), doc["size"], doc["frames"], real.get("photo"), real.get("face_px")


def plot_summary(paths: list[Path], out: Path) -> None:
    """One panel per ``--json`` file and FaceFusion version (versions with the same tracks share
    one): the pasted face's distance from the truth per frame, in % of the face width, exact
    (raw detections) and stabilised."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = []  # [doc, versions, cfg]; runs of one case whose tracks are the same share a panel
    for doc, version, cfg in _pairs(paths, "track_px"):
        same = [p for p in panels if _case_of(p[0]) == _case_of(doc) and all(
            np.shape(p[2][v]["jitter"]["track_px"]) == np.shape(cfg[v]["jitter"]["track_px"])
            and np.allclose(p[2][v]["jitter"]["track_px"], cfg[v]["jitter"]["track_px"], rtol=0, atol=0.02)
            for v in ("exact", "stabilized"))]
        if same:
            same[0][1].append(version)
        else:
            panels.append([doc, [version], cfg])
    if not panels:
        raise SystemExit("--plot: no file with exact and stabilized tracks")
    cols = min(4, len(panels))
    rows = -(-len(panels) // cols)
    # each panel its own y scale: a face the detector lost can be 100 % F off, the rest under 3 %
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 2.6 * rows), squeeze=False)
    for ax, (doc, versions, cfg) in zip(axes.ravel(), panels):
        for variant, colour in (("exact", "tab:red"), ("stabilized", "tab:blue")):
            j = cfg[variant]["jitter"]
            pos, truth = np.asarray(j["track_px"]), np.asarray(j["truth_track_px"])
            frames = j.get("track_frames", list(range(len(pos))))
            err = 100 * np.linalg.norm(pos - truth, axis=1) / j["face_width_px"]
            ax.plot(frames, err, ".-", ms=2, lw=0.8, color=colour,
                    label=f"{'raw detections' if variant == 'exact' else 'stabilised'} ({j['jitter_vs_truth_px']:.2f} px)")
        face = doc.get("real", {}).get("face_px", "")
        photo = doc.get("real", {}).get("photo", "demo")
        ax.set_title(f"{doc.get('motion', 'demo')}, {photo}, {doc['size']}, {face} px, FF {' = '.join(versions)}",
                     fontsize=8)
        ax.legend(fontsize=6, loc="upper left")
        ax.tick_params(labelsize=7)
    for ax in axes.ravel()[len(panels):]:
        ax.set_visible(False)
    for ax in axes[:, 0]:
        ax.set_ylabel("error, % of face width", fontsize=7)
    for ax in axes[-1]:
        ax.set_xlabel("frame", fontsize=7)
    fig.suptitle("FaceFusion headless-run: pasted face centre against the truth (legend: jitter about the truth)",
                 fontsize=9)
    fig.tight_layout()
    fig.savefig(out, dpi=72)
    print(f"wrote {out}")
