"""Relative mode: ΔtPSNR = output - reference cancels real motion, keeps added jitter."""

from __future__ import annotations

import math

import numpy as np
import pytest

from ffaccel.quality import QualityMonitor, delta_tpsnr, psnr, stability_verdict

HEIGHT, WIDTH = 24, 40


def smooth_stripes() -> np.ndarray:
    """A horizontally periodic smooth pattern (period 64 px), wide enough to pan."""
    x = np.arange(WIDTH + 200)
    row = 128 + 60 * np.sin(2 * np.pi * x / 64)
    return np.repeat(np.rint(row)[None, :, None], HEIGHT, axis=0).repeat(3, axis=2).astype(np.uint8)


def target_clip(n: int, burst_at: int) -> list[np.ndarray]:
    """Pans 1 px per frame, 8 px at ``burst_at`` (real fast motion, not jitter)."""
    pattern, offset, frames = smooth_stripes(), 0, []
    for i in range(n):
        offset += 8 if i == burst_at else (1 if i else 0)
        frames.append(np.ascontiguousarray(pattern[:, offset:offset + WIDTH]))
    return frames


def output_clip(target: list[np.ndarray], pop_at: int) -> list[np.ndarray]:
    """The target brightened by 6 from ``pop_at`` on: one pair (pop_at-1, pop_at) jitters."""
    return [f + np.uint8(6) if i >= pop_at else f.copy() for i, f in enumerate(target)]


def _run(frames, reference=None, stride=1):
    monitor = QualityMonitor(crop=None, stride=stride, tail_frames=5)
    for i, frame in enumerate(frames):
        monitor.update(frame, reference=None if reference is None else reference[i])
    return monitor


@pytest.mark.parametrize("stride", [1, 2])
def test_real_motion_is_jitter_alone_but_not_relative_to_the_target(stride):
    target = target_clip(40, burst_at=12)
    output = output_clip(target, pop_at=26)
    absolute = _run(output, stride=stride).summary()
    assert absolute["jitter_basis"] == "tpsnr"
    assert absolute["jitter_event_frames"] == [12, 26]
    relative = _run(output, target, stride=stride).summary()
    assert relative["jitter_basis"] == "delta_tpsnr"
    assert relative["jitter_event_frames"] == [26]


def test_delta_per_frame_is_output_minus_reference():
    target = target_clip(20, burst_at=6)
    output = output_clip(target, pop_at=10)
    monitor = _run(output, target)
    for s in monitor.samples:
        out_db = psnr(output[s.frame], output[s.frame - 1])
        ref_db = psnr(target[s.frame], target[s.frame - 1])
        assert s.tpsnr == pytest.approx(out_db) and s.reference_tpsnr == pytest.approx(ref_db)
        assert s.delta_tpsnr == pytest.approx(out_db - ref_db)
    # Only the pop pair differs; every other pair is the same motion, so Δ is exactly 0.
    assert [s.frame for s in monitor.samples if s.delta_tpsnr != 0.0] == [10]


def test_summary_says_how_much_stability_was_lost():
    target = target_clip(20, burst_at=6)
    output = output_clip(target, pop_at=10)
    monitor = _run(output, target)
    summary = monitor.summary()
    pop = next(s for s in monitor.samples if s.frame == 10)
    expected = pop.delta_tpsnr / len(monitor.samples)
    assert expected < 0
    assert summary["mean_delta_tpsnr"] == pytest.approx(expected)
    assert summary["stability_change_db"] == pytest.approx(expected)
    assert summary["min_delta_tpsnr"] == pytest.approx(pop.delta_tpsnr)
    assert summary["verdict"] == stability_verdict(expected)
    assert summary["verdict"].startswith("output lost")


def test_steadier_output_gains_stability():
    # Output frozen half the time where the target moves: Δ > 0 where both are finite.
    target = target_clip(12, burst_at=100)
    output = [target[i - i % 2] for i in range(12)]
    output = [f + np.uint8(1) * (i % 2) for i, f in enumerate(output)]  # tiny change, finite PSNR
    summary = _run(output, target).summary()
    assert summary["mean_delta_tpsnr"] > 0
    assert "gained" in summary["verdict"]


def test_identical_pairs_in_relative_mode():
    still = [np.full((HEIGHT, WIDTH, 3), 90, np.uint8)] * 4
    moving = target_clip(4, burst_at=100)
    both_still = _run(still, still).summary()
    assert both_still["mean_delta_tpsnr"] == 0.0 and both_still["delta_undefined_pairs"] == 0
    one_still = _run(still, moving).summary()
    assert one_still["delta_undefined_pairs"] == 3
    assert one_still["mean_delta_tpsnr"] is None
    assert "unknown" in one_still["verdict"]


def test_delta_tpsnr_rules_and_bad_input():
    assert delta_tpsnr(30.0, 32.5) == -2.5
    assert delta_tpsnr(math.inf, math.inf) == 0.0
    assert delta_tpsnr(30.0, math.inf) is None
    with pytest.raises(ValueError, match="output_db"):
        delta_tpsnr(math.nan, 1.0)
    with pytest.raises(ValueError, match="reference_db"):
        delta_tpsnr(1.0, "x")  # type: ignore[arg-type]


def test_reference_must_match_frame():
    frame = np.zeros((HEIGHT, WIDTH, 3), np.uint8)
    monitor = QualityMonitor()
    with pytest.raises(ValueError, match="reference shape"):
        monitor.update(frame, reference=np.zeros((HEIGHT, WIDTH + 1, 3), np.uint8))
    with pytest.raises(TypeError, match="reference: expected dtype uint8"):
        QualityMonitor().update(frame, reference=frame.astype(np.float32))


@pytest.mark.cuda
def test_gpu_relative_matches_numpy():
    cupy = pytest.importorskip("cupy")
    target = target_clip(30, burst_at=8)
    output = output_clip(target, pop_at=20)
    cpu = _run(output, target, stride=2)
    gpu = _run([cupy.asarray(f) for f in output], [cupy.asarray(f) for f in target], stride=2)
    assert [s.delta_tpsnr for s in gpu.samples] == [s.delta_tpsnr for s in cpu.samples]
    assert gpu.summary()["jitter_event_frames"] == cpu.summary()["jitter_event_frames"] == [20]
    with pytest.raises(ValueError, match="same device"):
        QualityMonitor().update(cupy.asarray(output[0]), reference=target[0])
