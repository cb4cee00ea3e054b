"""JSON / PNG / HTML reports and the summary table."""

from __future__ import annotations

import builtins
import json
import math
import sys

import numpy as np
import pytest

from ffaccel.quality import QualityMonitor
from ffaccel.quality.cli import format_summary_table
from ffaccel.quality.report import SCHEMA, build_report, format_value, render_plot_png, write_html


def _monitor(relative: bool = False) -> QualityMonitor:
    rng = np.random.default_rng(0)
    base = rng.integers(40, 200, (20, 30, 3)).astype(np.int16)
    signs = rng.choice(np.array([-1, 1], np.int16), base.shape)
    offsets = [0, 3, 0, 3, 0, 0, 3, 0, 15, 12, 15, 12]  # an identical pair, a spike at 8
    frames = [(base + c * signs).astype(np.uint8) for c in offsets]
    monitor = QualityMonitor(crop=None, stride=1, tail_frames=4)
    for frame in frames:
        monitor.update(frame, reference=frames[0] if relative else None)
    return monitor


def test_report_structure_and_strict_json():
    monitor = _monitor()
    report = build_report(monitor, {"output": "x.mp4"})
    assert set(report) == {"schema", "settings", "source", "summary", "events", "frames"}
    assert report["schema"] == SCHEMA
    assert report["settings"] == {"crop": None, "box": None, "stride": 1, "jitter_threshold_db": 3.0,
                                  "jitter_window": 5, "tail_frames": 4}
    text = json.dumps(report, allow_nan=False)
    assert json.loads(text)["source"] == {"output": "x.mp4"}
    frames = report["frames"]
    assert len(frames) == 11 and frames[0]["frame"] == 1
    assert frames[4]["tpsnr"] is None and frames[4]["identical"] is True
    assert frames[7]["tpsnr"] == pytest.approx(20 * math.log10(255 / 15))  # pair (7, 8): 0 -> 15
    assert [e["frame"] for e in report["events"]] == [8] == report["summary"]["jitter_event_frames"]
    event = report["events"][0]
    assert event["drop_db"] == pytest.approx(event["running_mean_db"] - event["value_db"])
    assert set(frames[0]) == {"frame", "box", "tpsnr", "identical", "lab", "color_drift", "sharpness"}


def test_relative_report_has_reference_fields():
    report = build_report(_monitor(relative=True))
    frame = report["frames"][0]
    # The reference is one still frame repeated: identical pairs, Δ undefined.
    assert frame["reference_tpsnr"] is None and frame["reference_identical"] is True
    assert frame["delta_tpsnr"] is None
    assert report["summary"]["delta_undefined_pairs"] == 10
    json.dumps(report, allow_nan=False)


def test_plot_and_html(tmp_path):
    pytest.importorskip("matplotlib")
    for relative in (False, True):
        monitor = _monitor(relative)
        png = render_plot_png(monitor)
        assert png[:8] == b"\x89PNG\r\n\x1a\n"
        page = tmp_path / f"r{relative}.html"
        write_html(monitor, page, {"output": "<clip>.mp4"})
        text = page.read_text()
        assert text.startswith("<!DOCTYPE html>") and "data:image/png;base64," in text
        assert "&lt;clip&gt;.mp4" in text  # escaped
        assert "<td>8</td>" in text  # the event row
    monitor.save_plot(tmp_path / "p.png")
    assert (tmp_path / "p.png").read_bytes()[:4] == b"\x89PNG"


def test_missing_matplotlib_names_the_extra(monkeypatch, tmp_path):
    real_import = builtins.__import__

    def no_mpl(name, *args, **kwargs):
        if name == "matplotlib" or name.startswith("matplotlib."):
            raise ImportError("No module named 'matplotlib'")
        return real_import(name, *args, **kwargs)

    for name in [m for m in sys.modules if m == "matplotlib" or m.startswith("matplotlib.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setattr(builtins, "__import__", no_mpl)
    with pytest.raises(ModuleNotFoundError, match=r"pip install \"ffaccel\[report\]\""):
        _monitor().save_html(tmp_path / "r.html")


def test_summary_table_and_values():
    table = format_summary_table(_monitor().summary())
    assert "jitter events [tpsnr]  1 (frame 8)" in table
    assert "identical pairs" in table and "n/a" not in table.split("mean tPSNR")[1].splitlines()[0]
    relative = format_summary_table(_monitor(relative=True).summary())
    # Only the one pair identical in both clips compares (Δ = 0): "unchanged".
    assert "verdict" in relative and "unchanged" in relative
    assert format_value(None) == "n/a" and format_value(1.23456) == "1.235"
    assert format_value(list(range(25))).endswith("(25 in all)")
