"""The demo's measurements and reports: accuracy against ground truth, and timing tables.

Everything here is computed from what the run produced; nothing is a stored figure.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ffaccel import _checks
from ffaccel.demo.pipeline import STEPS, estimate_matrix, have_cv2

__all__ = [
    "track_metrics",
    "footprint_track",
    "timing_summary",
    "format_timing_table",
    "format_quality_lines",
    "write_json",
    "plot_tracks",
]


def _rms(values: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(values)))) if values.size else 0.0


def footprint_track(five: np.ndarray, crop_size: int) -> np.ndarray:
    """(T, 4, 2) frame positions of the crop's corners for a (T, 5, 2) landmark track.

    This is where the pasted face lands in each frame: the crop's corners mapped back
    through the inverse of the alignment matrix estimated from the landmarks (as the
    pipeline estimates it: OpenCV's call when it is installed, else numpy least squares).
    """
    use_cv2 = have_cv2()
    corners = np.array([[0, 0], [crop_size, 0], [crop_size, crop_size], [0, crop_size]], np.float64)
    out = np.empty((len(five), 4, 2))
    for t, pts in enumerate(five):
        inverse = _checks.affine_inverse(estimate_matrix(pts, crop_size, use_cv2)[None], "matrix").reshape(2, 3)
        out[t] = corners @ inverse[:, :2].T + inverse[:, 2]
    return out


def track_metrics(track: np.ndarray, truth: np.ndarray, unit: float = 1.0) -> dict[str, Any]:
    """Error and jitter of a (T, N, 2) point track against the ground truth, in pixels.

    - ``rms_error_px``: RMS distance between track and truth over all points and frames.
    - ``jitter_px``: RMS of the frame-to-frame change of the error vector, over all
      points: the part of the error that moves from one frame to the next, which the eye
      sees as shake. A constant offset has no jitter; pure i.i.d. noise of std s per
      coordinate has jitter 2 s (two coordinates, difference of two draws).
    - ``max_error_px``: the largest point error.
    - ``per_frame_error_px``: (T,) RMS error of each frame.
    - ``*_1080p`` copies: the same divided by ``unit`` (frame height / 1080), so
      figures from different resolutions compare.
    """
    err = np.asarray(track, np.float64) - np.asarray(truth, np.float64)
    dist = np.hypot(err[..., 0], err[..., 1])
    step = np.diff(err, axis=0)
    jitter = float(np.sqrt(np.mean(np.sum(step**2, axis=-1)))) if step.size else 0.0
    rms = _rms(dist)
    return {
        "rms_error_px": rms,
        "jitter_px": jitter,
        "max_error_px": float(dist.max()) if dist.size else 0.0,
        "rms_error_px_1080p": rms / unit,
        "jitter_px_1080p": jitter / unit,
        "per_frame_error_px": np.sqrt(np.mean(dist**2, axis=-1)).tolist(),
    }


def timing_summary(timings: Mapping[str, Sequence[Mapping[str, float]]], labels: Mapping[str, str],
                   stabilise_ms_per_face: float, baseline: str = "facefusion",
                   skipped: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Median and mean per-face ms of every step of every path, and speed-ups against ``baseline``.

    Args:
        timings: path name -> one {step: ms} dict per processed face.
        labels: path name -> human-readable label.
        stabilise_ms_per_face: stabilize_track's time over the whole track divided by the
            number of frames (the same for every path).
        baseline: the path the speed-ups are relative to. When it did not run, every
            ``speedup`` is empty.
        skipped: label of a path that did not run -> why, in one line (kept as ``"skipped"``).

    Returns:
        ``{"unit": "ms per face", "stabilise_ms_per_face": ..., "paths": {name: {"label",
        "faces", "steps": {step: {"median", "mean"}}, "total": {"median", "mean"},
        "speedup": {step or "total": baseline median / this median}}}}``. Steps a path does
        not have are absent. ``"skipped"``: {label: why} of the paths that did not run.
    """
    out: dict[str, Any] = {"unit": "ms per face", "baseline": baseline,
                           "stabilise_ms_per_face": stabilise_ms_per_face, "paths": {},
                           "skipped": dict(skipped or {})}
    for name, calls in timings.items():
        steps = {}
        for step in STEPS:
            vals = np.array([c[step] for c in calls if step in c])
            if vals.size:
                steps[step] = {"median": float(np.median(vals)), "mean": float(vals.mean())}
        totals = np.array([sum(c.values()) for c in calls])
        out["paths"][name] = {"label": labels[name], "faces": len(calls), "steps": steps,
                              "total": {"median": float(np.median(totals)), "mean": float(totals.mean())}}
    base = out["paths"].get(baseline)
    for entry in out["paths"].values():
        speed: dict[str, float | None] = {}
        if base is not None:
            for step, stat in entry["steps"].items():
                if step in base["steps"]:
                    speed[step] = base["steps"][step]["median"] / stat["median"] if stat["median"] > 0 else None
            speed["total"] = base["total"]["median"] / entry["total"]["median"] if entry["total"]["median"] > 0 else None
        entry["speedup"] = speed
    return out


def _ms(v: float | None) -> str:
    return "—" if v is None else (f"{v:.2f}" if v < 10 else f"{v:.1f}")


def _x(v: float | None) -> str:
    return "—" if v is None else f"{v:.2f}×"


def format_timing_table(summary: Mapping[str, Any]) -> str:
    """The timing summary as a Markdown table: median ms per face per step, speed-ups against the baseline.

    Without the baseline there are no speed-up columns. Each skipped path adds one line
    under the table: ``<label>: skipped: <why>``.
    """
    paths = summary["paths"]
    names = list(paths)
    base = summary["baseline"] if summary["baseline"] in paths else None
    header = ["step"]
    for n in names:
        header.append(f"{paths[n]['label']} ms")
        if base is not None and n != base:
            header.append("speed-up")
    rows = [header]
    for step in STEPS:
        if not any(step in paths[n]["steps"] for n in names):
            continue
        row = [step]
        for n in names:
            stat = paths[n]["steps"].get(step)
            row.append(_ms(stat["median"] if stat else None))
            if base is not None and n != base:
                row.append(_x(paths[n]["speedup"].get(step)) if stat else "—")
        rows.append(row)
    row = ["**total per face**"]
    for n in names:
        row.append(f"**{_ms(paths[n]['total']['median'])}**")
        if base is not None and n != base:
            row.append(f"**{_x(paths[n]['speedup'].get('total'))}**")
    rows.append(row)
    stab = ["stabilise (offline, once per clip; same for every path)"]
    for n in names:
        stab.append(_ms(summary["stabilise_ms_per_face"]))
        if base is not None and n != base:
            stab.append("")
    rows.append(stab)
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    lines = ["| " + " | ".join(c.ljust(w) for c, w in zip(r, widths)) + " |" for r in rows]
    lines.insert(1, "| " + " | ".join("-" * w for w in widths) + " |")
    skipped = summary.get("skipped") or {}
    if skipped:
        lines.append("")
        lines.extend(f"{label}: skipped: {why}" for label, why in skipped.items())
    return "\n".join(lines)


def format_quality_lines(quality: Mapping[str, Any]) -> list[str]:
    """A few lines saying what stabilisation did, from the demo's quality report."""
    v = quality["variants"]
    raw, stab = v["raw"], v["stabilised"]
    lines = [
        "landmarks vs ground truth (5 points, px at 1080p): "
        f"jitter {raw['landmarks']['jitter_px_1080p']:.2f} -> {stab['landmarks']['jitter_px_1080p']:.2f}, "
        f"RMS error {raw['landmarks']['rms_error_px_1080p']:.2f} -> {stab['landmarks']['rms_error_px_1080p']:.2f}",
        "pasted face position vs ground truth (crop corners, px at 1080p): "
        f"jitter {raw['footprint']['jitter_px_1080p']:.2f} -> {stab['footprint']['jitter_px_1080p']:.2f}, "
        f"RMS error {raw['footprint']['rms_error_px_1080p']:.2f} -> {stab['footprint']['rms_error_px_1080p']:.2f}",
    ]
    lines.append(
        "pixels vs ground-truth render (face box): "
        f"jitter {raw['pixel_jitter_vs_truth']:.2f} -> {stab['pixel_jitter_vs_truth']:.2f} code values RMS, "
        f"PSNR {raw['psnr_vs_truth_db']:.2f} -> {stab['psnr_vs_truth_db']:.2f} dB"
    )
    rs, ss = raw.get("monitor"), stab.get("monitor")
    if rs and ss and rs.get("mean_delta_tpsnr") is not None and ss.get("mean_delta_tpsnr") is not None:
        lines.append(
            "temporal PSNR of the face box relative to the ground-truth render (ΔtPSNR, 0 = as steady as truth): "
            f"{rs['mean_delta_tpsnr']:+.2f} dB -> {ss['mean_delta_tpsnr']:+.2f} dB"
        )
    return lines


def write_json(data: Any, path: str | Path) -> None:
    """Strict JSON (no NaN/Infinity), indented."""
    Path(path).write_text(json.dumps(data, indent=2, allow_nan=False) + "\n", encoding="utf-8")


def plot_tracks(per_frame: Mapping[str, Sequence[float]], footprint: Mapping[str, Sequence[float]],
                outliers: np.ndarray, path: str | Path) -> None:
    """PNG: per-frame landmark error and pasted-face position error, raw vs stabilised."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 1, figsize=(9, 5.5), sharex=True)
    for ax, series, title in ((axes[0], per_frame, "5-point landmark error vs ground truth (RMS px)"),
                              (axes[1], footprint, "pasted face position error vs ground truth (crop corners, RMS px)")):
        for name, values in series.items():
            ax.plot(np.arange(len(values)), values, label=name, lw=1.2)
        for t in np.flatnonzero(outliers):
            ax.axvline(t, color="red", alpha=0.25, lw=1)
        ax.set_title(title, fontsize=10)
        ax.set_ylabel("px")
        ax.grid(alpha=0.3)
    axes[0].legend(loc="upper right", fontsize=8)
    axes[1].set_xlabel("frame (red lines: detector outliers)")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
