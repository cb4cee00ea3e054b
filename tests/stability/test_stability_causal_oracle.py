"""benchmarks/bench_causal_oracle.py: the best constant-velocity causal filter per clip, tuned with
the truth (what docs/stability.md, "A second detector", compares the causal mode with)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))

import bench_causal_oracle as oracle  # noqa: E402

from ffaccel.stability import _realdata as rd  # noqa: E402


def test_alpha_beta_follows_a_line_and_passes_everything_at_the_lightest_level():
    t = np.arange(60.0)[:, None, None]
    line = np.broadcast_to(np.array([[10.0, 20.0], [30.0, 20.0]]) + t * [[0.5, -0.25]], (60, 2, 2)).copy()
    out = oracle.alpha_beta(line, 0.1)
    assert np.abs(out[-10:] - line[-10:]).max() < 1e-3  # a constant-velocity model: no lag in the end
    rng = np.random.default_rng(5)
    noisy = line + rng.normal(0, 1.0, line.shape)
    assert np.abs(oracle.alpha_beta(noisy, 1e6) - noisy).max() < 1e-3  # alpha -> 1
    assert rd.jitter(oracle.alpha_beta(noisy, 1e-3), line) < 0.5 * rd.jitter(noisy, line)  # a smooth level smooths


def test_the_oracle_on_the_shipped_face_mesh_nods(tmp_path, capsys):
    out = tmp_path / "oracle.json"
    assert oracle.main(["--tracks", str(ROOT / "tests" / "data" / "real_tracks_facemesh"), "--scenarios", "nod",
                        "--json", str(out)]) == 0
    rows = json.loads(out.read_text())
    assert sorted(r["clip"] for r in rows) == ["nod_4k_240_hopper", "nod_4k_600_astronaut", "nod_720p_80_astronaut"]
    for r in rows:
        assert abs(r["oracle"]["lag"]) <= oracle.MAX_LAG and r["oracle"]["level"] in oracle.LEVELS
        assert r["oracle_reduction"] > 1.0  # it picked a level that removes some noise
    assert "| nod | 3 |" in capsys.readouterr().out
    assert oracle.main(["--tracks", str(tmp_path), "--scenarios", "nod"]) == 2  # no tracks: says so
