"""benchmarks/bench_distributed.py reports as it goes and never waits without bound (a child process each)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("ray", reason='Ray is not installed (pip install "ffaccel[ray]"): benchmark tests skipped')

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_distributed.py"
# tiny clips, bounds well under the test's own timeout (argparse: the last --stall-timeout given wins)
TINY = ["--clips", "1", "--frames", "8", "--resolution", "160x96", "--crop-size", "64", "--segment-frames", "4",
        "--widths", "1", "--gpu-widths", "1", "--start-timeout", "60", "--stall-timeout", "100"]


def _lines(stderr: str) -> list[str]:
    return [t for t in stderr.splitlines() if t.startswith("[bench_distributed")]


def test_a_line_per_step_and_per_row_of_every_round(tmp_path):
    out = subprocess.run([sys.executable, str(BENCH), *TINY, "--repeats", "2", "--json", str(tmp_path / "o.json")],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    rows = json.loads((tmp_path / "o.json").read_text())["rows"]
    lines = _lines(out.stderr)
    assert any("rendered 1 demo clips of 8 frames at 160x96" in t for t in lines)
    assert any("Ray 2." in t and " up: " in t for t in lines) and any("warm-up (not timed)" in t for t in lines)
    done = [t for t in lines if re.search(r"round \d/2, row \d+/\d+ \(", t)]
    assert len(done) == 2 * len(rows)  # every row of every round, as it ended
    assert "round 1/2, row 1/" in done[0] and "(local x1, 1 clips x 8 frames): " in done[0]
    assert any("(ray-cpu x1, 1 clips x 8 frames): " in t and t.endswith("frames/s") for t in done)
    stamps = [float(re.match(r"\[bench_distributed +([0-9.]+) s\]", t).group(1)) for t in lines]
    assert stamps == sorted(stamps)
    assert "frames/s, actors 1/1 started" in out.stderr  # the warm-up drew run_jobs's progress block


def test_a_stalled_run_stops_with_the_cause(tmp_path):
    """--stall-timeout 0.001: the warm-up's Ray run has finished nothing by its first check (run_jobs's
    StallError), or, where its calls came back before the first check, local-mt's child process runs past
    it (TimeoutExpired); either way the benchmark stops, and says which step failed and why."""
    out = subprocess.run([sys.executable, str(BENCH), *TINY, "--repeats", "1", "--stall-timeout", "0.001"],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode != 0
    failed = [t for t in _lines(out.stderr) if " failed after " in t]
    assert len(failed) == 1, out.stderr[-3000:]
    if failed[0].endswith("StallError"):
        assert "warm-up failed after" in failed[0]
        assert "StallError: run_jobs: no call finished and no frame was reported for" in out.stderr
    else:
        assert re.search(r"round 1/1, row 2/\d+ \(local-mt x1, 1 clips x 8 frames\) failed after [0-9.]+ s: "
                         r"TimeoutExpired$", failed[0]), failed[0]
