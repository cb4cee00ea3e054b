"""Issue 4 benchmark goals as deterministic assertions on a small fixed-seed case.

Same scenarios, noise and metrics as benchmarks/bench_stability.py (one seed,
sigma = 1.5 px). "causal" and "offline" are the first generation
(``TemporalSmoother``, ``smooth_track``); "stab_*" are ``stabilize_track``'s
modes (issue 13).

Issue 4's two strict xfails on ``TemporalSmoother`` were replaced (issue 13):
- shaky handheld (>= 5x jitter cut and below EMA(0.25)): ``stabilize_track``'s
  causal mode meets it, tested below; TemporalSmoother's shortfall is kept in
  docs/results/stability_synthetic.md as a baseline figure.
- zero tail spikes with the guard: met by ``stabilize_track``'s fixed-lag and
  offline modes, tested below. A causal filter cannot see the clip end; its
  count is reported by the benchmark and docs, not asserted here.
"""

from __future__ import annotations

import numpy as np
import pytest

from ffaccel.stability import EndOfSequenceGuard, OneEuroFilter, TemporalSmoother, smooth_track, stabilize_track
from ffaccel.stability._scenarios import (
    SCENARIOS,
    PlainEMA,
    add_noise,
    make_scenario,
    metrics,
    run_causal,
    tail_spikes,
    tune_one_euro,
)

SIGMA = 1.5
MAIN = ("still", "slow_pan", "fast_turn", "dropouts")  # the causal mode meets every goal here
RAMPS = ("slow_pan", "fast_turn", "dropouts")


@pytest.fixture(scope="module")
def results():
    one_euro, _ = tune_one_euro(150, SIGMA)
    out = {}
    for name in SCENARIOS:
        sc = make_scenario(name, 150, 0)
        z = add_noise(sc.truth, "gauss", SIGMA, np.random.default_rng(10_000 + SCENARIOS.index(name)))
        held = z.copy()
        held[sc.dropped] = np.nan
        tracks = {
            "raw": held,
            "ema": run_causal(lambda: PlainEMA(0.25), z, sc.dropped),
            "one_euro": run_causal(lambda: OneEuroFilter(*one_euro), z, sc.dropped),
            "causal": run_causal(TemporalSmoother, z, sc.dropped),
            "offline": smooth_track(held),
            "stab_causal": stabilize_track(held, mode="causal"),
            "stab_fixed_lag": stabilize_track(held, mode="fixed_lag"),
            "stab_offline": stabilize_track(held),
        }
        out[name] = {k: metrics(v, sc) for k, v in tracks.items()}
        if name == "tail":
            for k, v in tracks.items():
                guard = EndOfSequenceGuard() if k in ("causal", "offline") or k.startswith("stab") else None
                out[name][k]["spikes"] = tail_spikes(v, sc.truth, sc.tail_frames, guard)
    return out


def test_metrics_are_sane(results):
    r = results["still"]["raw"]
    assert r["jitter"] == pytest.approx(SIGMA * np.sqrt(6), rel=0.05)
    assert results["slow_pan"]["ema"]["lag"] == pytest.approx(3.0, abs=0.2)  # (1 - a) / a
    assert results["tail"]["raw"]["spikes"] > 0  # the spike detector can fire


@pytest.mark.parametrize("mode", ["causal", "offline"])
def test_jitter_cut_5x_with_lag_at_most_1(results, mode):
    scen = MAIN + (("shaky",) if mode == "offline" else ())
    for name in scen:
        assert results[name]["raw"]["jitter"] / results[name][mode]["jitter"] >= 5.0, name
    for name in RAMPS:
        assert abs(results[name][mode]["lag"]) <= 1.0, name


@pytest.mark.parametrize("mode", ["causal", "offline"])
@pytest.mark.parametrize("base", ["ema", "one_euro"])
def test_beats_baselines_on_jitter_at_lower_lag(results, mode, base):
    scen = MAIN + (("shaky",) if mode == "offline" else ())
    for name in scen:
        assert results[name][mode]["jitter"] < results[name][base]["jitter"], name
    for name in RAMPS:
        assert abs(results[name][mode]["lag"]) <= abs(results[name][base]["lag"]), name


@pytest.mark.parametrize("mode", ["causal", "offline"])
def test_cut_recovery_within_one_frame(results, mode):
    assert results["cut"][mode]["recovery"] <= 1
    assert results["cut"]["ema"]["recovery"] > 1  # without cut handling it does not


def test_offline_has_zero_tail_spikes(results):
    assert results["tail"]["offline"]["spikes"] == 0


def test_stabilize_causal_meets_the_shaky_goal(results):
    r = results["shaky"]
    assert r["raw"]["jitter"] / r["stab_causal"]["jitter"] >= 5.0 and r["stab_causal"]["jitter"] < r["ema"]["jitter"]


@pytest.mark.parametrize("mode", ["stab_fixed_lag", "stab_offline"])
def test_stabilize_has_zero_tail_spikes(results, mode):
    assert results["tail"][mode]["spikes"] == 0


@pytest.mark.parametrize("mode", ["stab_causal", "stab_fixed_lag", "stab_offline"])
def test_stabilize_meets_issue_13_jitter_and_lag_goals(results, mode):
    """Issue 13: offline jitter <= raw / 5 at |lag| <= 0.1; causal <= raw / 3 at lag <= 1 frame."""
    need = 3.0 if mode == "stab_causal" else 5.0
    for name in MAIN + ("shaky",):
        assert results[name]["raw"]["jitter"] / results[name][mode]["jitter"] >= need, name
    for name in RAMPS:
        assert abs(results[name][mode]["lag"]) <= (0.1 if mode == "stab_offline" else 1.0), name
    assert results["cut"][mode]["recovery"] <= 1
