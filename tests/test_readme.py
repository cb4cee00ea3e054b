"""The README's code must run as written."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_python_example_runs():
    if not README.exists():
        pytest.skip("README.md not beside the tests (installed test copy)")
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    assert blocks, "the README has a Python example"
    namespace: dict = {}
    exec(compile(blocks[0], "README.md", "exec"), namespace)  # noqa: S102 - our own README
    assert namespace["out"].shape == namespace["frame"].shape
    assert (namespace["out"] != namespace["frame"]).any()


def test_readme_demo_quality_figures_quote_the_dated_report():
    """The README's ground-truth figures are a quote of a committed, dated demo report: they
    must match it (jitter of the pasted face and PSNR, raw -> stabilised)."""
    report = README.parent / "docs" / "results" / "h200-0bc3f42" / "demo_timing.md"
    if not README.exists() or not report.exists():
        pytest.skip("README.md / docs/results not beside the tests (installed test copy)")
    text = README.read_text()
    assert "docs/results/h200-0bc3f42/demo_timing.md" in text
    jitter = re.search(r"\| jitter of the pasted face \| ([\d.]+) px \| ([\d.]+) px \|", text)
    psnr = re.search(r"\| PSNR vs the ground-truth render \| ([\d.]+) dB \| ([\d.]+) dB \|", text)
    assert jitter and psnr, "the README's quality table"
    rep = report.read_text()
    rj = re.search(r"pasted face position vs ground truth .*?jitter ([\d.]+) -> ([\d.]+)", rep)
    rp = re.search(r"PSNR ([\d.]+) -> ([\d.]+) dB", rep)
    assert rj and rp, "the report's quality lines"
    assert [float(v) for v in jitter.groups()] == [float(v) for v in rj.groups()]
    assert [round(float(v), 1) for v in rp.groups()] == [float(v) for v in psnr.groups()]
