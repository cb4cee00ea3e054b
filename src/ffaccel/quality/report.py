"""Reports for a QualityMonitor: JSON (schema ``ffaccel.quality/2``), PNG plot, HTML page.

The JSON schema is documented in docs/quality.md. The plot and the HTML page need
matplotlib, imported only when they are asked for (``pip install "ffaccel[report]"``).
"""

from __future__ import annotations

import base64
import html
import io
import json
import math
from pathlib import Path
from typing import Any, Protocol

from ffaccel.quality._sample import Box, FrameSample
from ffaccel.quality.events import JITTER_WINDOW

__all__ = ["SCHEMA", "MonitorView", "build_report", "render_plot_png", "write_html", "write_json", "write_plot"]

SCHEMA = "ffaccel.quality/2"  # /2: boxes are (x0, y0, x1, y1) (were (x, y, w, h) in /1)
REPORT_EXTRA_HINT = 'pip install "ffaccel[report]" (or ".[report]" from a checkout)'


class MonitorView(Protocol):
    """What a report reads from a monitor: :class:`ffaccel.quality.QualityMonitor` has it all.

    Reports depend on this shape, not on the monitor module, so the monitor can import
    them (``QualityMonitor.save_json`` and friends) without an import cycle.
    """

    samples: list[FrameSample]
    crop: tuple[int, int] | None
    box: Box | None
    stride: int
    jitter_threshold_db: float
    tail_frames: int
    frames_seen: int

    @property
    def relative(self) -> bool: ...

    def summary(self) -> dict[str, Any]: ...

    def events(self) -> list[dict[str, float | int]]: ...


def _finite_or_none(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


def build_report(monitor: MonitorView, source: dict[str, Any] | None = None) -> dict[str, Any]:
    """The JSON report as a dict: schema, settings, source, summary, events, frames.

    Infinite tPSNR (identical pairs) is written as ``null`` with ``"identical": true``,
    so the file is strict JSON (no NaN / Infinity tokens).
    """
    frames = []
    for s in monitor.samples:
        entry: dict[str, Any] = {
            "frame": s.frame,
            "box": list(s.box),
            "tpsnr": _finite_or_none(s.tpsnr),
            "identical": math.isinf(s.tpsnr),
            "lab": list(s.lab),
            "color_drift": s.color_drift,
            "sharpness": s.sharpness,
        }
        if monitor.relative:
            entry["reference_tpsnr"] = _finite_or_none(s.reference_tpsnr)
            entry["reference_identical"] = s.reference_tpsnr is not None and math.isinf(s.reference_tpsnr)
            entry["delta_tpsnr"] = s.delta_tpsnr
        frames.append(entry)
    return {
        "schema": SCHEMA,
        "settings": {
            "crop": None if monitor.crop is None else list(monitor.crop),
            "box": None if monitor.box is None else list(monitor.box),
            "stride": monitor.stride,
            "jitter_threshold_db": monitor.jitter_threshold_db,
            "jitter_window": JITTER_WINDOW,
            "tail_frames": monitor.tail_frames,
        },
        "source": source or {},
        "summary": monitor.summary(),
        "events": monitor.events(),
        "frames": frames,
    }


def write_json(monitor: MonitorView, path: str | Path, source: dict[str, Any] | None = None) -> None:
    """Write the JSON report to ``path`` (UTF-8, strict JSON)."""
    text = json.dumps(build_report(monitor, source), indent=2, allow_nan=False)
    Path(path).write_text(text + "\n", encoding="utf-8")


def _pyplot() -> Any:
    try:
        import matplotlib
    except ImportError as exc:
        raise ModuleNotFoundError(f"plots and HTML reports need matplotlib: {REPORT_EXTRA_HINT}") from exc
    matplotlib.use("Agg", force=False)  # files only, never a window
    import matplotlib.pyplot as plt

    return plt


def render_plot_png(monitor: MonitorView) -> bytes:
    """PNG bytes: per-frame tPSNR with jitter events marked (and ΔtPSNR in relative mode)."""
    plt = _pyplot()
    samples = monitor.samples
    panels = 3 if monitor.relative else 2
    fig, axes = plt.subplots(panels, 1, figsize=(10, 2.6 * panels), sharex=True, squeeze=False)
    axes = axes[:, 0]
    try:
        ax = axes[0]
        finite = [(s.frame, s.tpsnr) for s in samples if math.isfinite(s.tpsnr)]
        if finite:
            ax.plot(*zip(*finite), lw=1, color="tab:blue", label="tPSNR (output)")
        if monitor.relative:
            ref = [(s.frame, s.reference_tpsnr) for s in samples
                   if s.reference_tpsnr is not None and math.isfinite(s.reference_tpsnr)]
            if ref:
                ax.plot(*zip(*ref), lw=1, color="tab:gray", alpha=0.8, label="tPSNR (reference)")
        identical = [s.frame for s in samples if math.isinf(s.tpsnr)]
        if identical:
            top = max((v for _, v in finite), default=60.0)
            ax.plot(identical, [top] * len(identical), "|", color="tab:green", label="identical pair (inf)")
        events = monitor.events()
        event_axis = axes[1] if monitor.relative else ax
        if events:
            event_axis.plot([e["frame"] for e in events], [e["value_db"] for e in events], "v",
                            color="tab:red", ms=7, label="jitter event")
        if monitor.tail_frames and monitor.frames_seen:
            for a in axes:
                a.axvspan(max(0, monitor.frames_seen - monitor.tail_frames), monitor.frames_seen,
                          color="tab:orange", alpha=0.08,
                          label=f"tail (last {monitor.tail_frames} frames)" if a is ax else None)
        ax.set_ylabel("tPSNR (dB)")
        ax.legend(loc="lower left", fontsize=8)
        if monitor.relative:
            deltas = [(s.frame, s.delta_tpsnr) for s in samples if s.delta_tpsnr is not None]
            if deltas:
                axes[1].plot(*zip(*deltas), lw=1, color="tab:purple", label="ΔtPSNR (output - reference)")
            axes[1].axhline(0.0, color="black", lw=0.5)
            axes[1].set_ylabel("ΔtPSNR (dB)")
            axes[1].legend(loc="lower left", fontsize=8)
        last = axes[-1]
        last.plot([s.frame for s in samples], [s.color_drift for s in samples], lw=1, color="tab:brown")
        last.set_ylabel("colour drift ΔE")
        last.set_xlabel("frame")
        fig.suptitle(f"ffaccel quality: {len(events)} jitter event(s), "
                     f"threshold {monitor.jitter_threshold_db:g} dB, stride {monitor.stride}")
        fig.tight_layout()
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=100)
    finally:
        plt.close(fig)
    return buffer.getvalue()


def write_plot(monitor: MonitorView, path: str | Path) -> None:
    """Write the PNG plot to ``path``."""
    Path(path).write_bytes(render_plot_png(monitor))


def format_value(value: Any) -> str:
    """Summary value as table text: floats to 3 decimals, None as 'n/a'."""
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.3f}"
    if isinstance(value, list):
        shown = ", ".join(str(v) for v in value[:20])
        return shown + (f", ... ({len(value)} in all)" if len(value) > 20 else "")
    return str(value)


def write_html(monitor: MonitorView, path: str | Path, source: dict[str, Any] | None = None, *,
               plot: bool = True) -> None:
    """Write a self-contained HTML page: summary table, embedded plot, event list.

    ``plot=False`` leaves the plot out (a line says so) and so does not need matplotlib.
    """
    if plot:
        png = base64.b64encode(render_plot_png(monitor)).decode("ascii")
        figure = f'<img alt="per-frame tPSNR with jitter events" src="data:image/png;base64,{png}">'
    else:
        figure = f"<p>No plot here (plots need matplotlib: {html.escape(REPORT_EXTRA_HINT)}).</p>"
    summary = monitor.summary()
    rows = "\n".join(
        f"<tr><th>{html.escape(key)}</th><td>{html.escape(format_value(value))}</td></tr>"
        for key, value in summary.items()
    )
    events = "\n".join(
        f"<tr><td>{e['frame']}</td><td>{e['value_db']:.2f}</td><td>{e['running_mean_db']:.2f}</td>"
        f"<td>{e['drop_db']:.2f}</td></tr>"
        for e in monitor.events()
    ) or '<tr><td colspan="4">none</td></tr>'
    sources = "".join(
        f"<li>{html.escape(str(k))}: {html.escape(str(v))}</li>" for k, v in (source or {}).items()
    )
    verdict = summary.get("verdict")
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>ffaccel quality report</title>
<style>body{{font-family:sans-serif;max-width:1050px;margin:2em auto}}
table{{border-collapse:collapse}}th,td{{border:1px solid #ccc;padding:2px 8px;text-align:left}}</style>
</head><body>
<h1>ffaccel quality report</h1>
<ul>{sources}</ul>
{f"<p><strong>{html.escape(verdict)}</strong></p>" if verdict else ""}
{figure}
<h2>Summary</h2>
<table>{rows}</table>
<h2>Jitter events</h2>
<table><tr><th>frame</th><th>value (dB)</th><th>running mean (dB)</th><th>drop (dB)</th></tr>
{events}</table>
<p>Schema and definitions: docs/quality.md ({SCHEMA}).</p>
</body></html>
"""
    Path(path).write_text(page, encoding="utf-8")
