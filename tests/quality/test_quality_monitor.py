"""QualityMonitor on synthetic clips whose per-pair tPSNR is known in advance."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from ffaccel.quality import QualityMonitor, mean_lab, psnr

SHAPE = (24, 32, 3)


def _pattern(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    base = rng.integers(60, 196, SHAPE).astype(np.int16)
    signs = rng.choice(np.array([-1, 1], np.int16), SHAPE)
    return base, signs


def clip_from_levels(levels: list[int], seed: int = 0) -> list[np.ndarray]:
    """Frames whose pair (i-1, i) differs by exactly +-|levels[i-1]| at every pixel.

    frame_i = base + c_i * signs with c_i - c_{i-1} = levels[i-1], so
    tPSNR(i-1, i) = 20 log10(255 / |levels[i-1]|) exactly (inf for 0).
    """
    base, signs = _pattern(seed)
    offsets = np.concatenate([[0], np.cumsum(levels)])
    assert np.abs(offsets).max() < 60
    return [(base + int(c) * signs).astype(np.uint8) for c in offsets]


def _db(level: int) -> float:
    return 20 * math.log10(255 / level)


def _feed(monitor: QualityMonitor, frames, **kwargs):
    return [s for s in (monitor.update(f, **kwargs) for f in frames) if s is not None]


def _planted_levels(n_frames: int, spikes: set[int]) -> list[int]:
    """Steps of 3 or 4 (38.6 / 36.1 dB) alternating in sign, 12 (26.6 dB) at spikes."""
    rng = np.random.default_rng(42)
    levels = []
    for frame in range(1, n_frames):
        size = 12 if frame in spikes else int(rng.choice([3, 4]))
        sign = 1 if frame % 2 else -1
        if frame in spikes and sum(levels) + sign * size > 40:
            sign = -sign
        if frame in spikes and sum(levels) + sign * size < -40:
            sign = -sign
        levels.append(sign * size)
    return levels


@pytest.mark.parametrize("stride", [1, 2])
def test_every_planted_spike_is_found_and_nothing_else(stride):
    spikes = {8, 20, 34, 50, 58}  # even, so stride 2 samples them too
    frames = clip_from_levels(_planted_levels(62, spikes))
    monitor = QualityMonitor(crop=None, stride=stride, tail_frames=10)
    samples = _feed(monitor, frames)
    assert [s.frame for s in samples] == list(range(stride, 62, stride))
    summary = monitor.summary()
    assert summary["jitter_event_frames"] == sorted(spikes)
    assert summary["jitter_events"] == len(spikes)
    # Only the spike at frame 58 lies in the last 10 of 62 frames.
    assert summary["tail_spike_frames"] == [58] and summary["tail_spikes"] == 1


def test_tpsnr_values_are_exact_per_pair():
    levels = [3, -4, 12, -3, 4, 0, 5]
    frames = clip_from_levels(levels)
    samples = _feed(QualityMonitor(crop=None, stride=1), frames)
    for sample, level in zip(samples, levels):
        expected = math.inf if level == 0 else _db(abs(level))
        assert sample.tpsnr == pytest.approx(expected, abs=1e-9)
        assert sample.tpsnr == psnr(frames[sample.frame], frames[sample.frame - 1])


def test_stride_two_measures_pairs_ending_on_even_frames():
    levels = [3, 4, 5, 6, 7, 8]
    frames = clip_from_levels(levels)
    samples = _feed(QualityMonitor(crop=None, stride=2), frames)
    assert [(s.frame, round(s.tpsnr, 6)) for s in samples] == [
        (2, round(_db(4), 6)), (4, round(_db(6), 6)), (6, round(_db(8), 6))
    ]


def test_summary_statistics_match_hand_computation():
    levels = [3, -4, 3, -4, 12]
    summary = _monitor_summary(levels)
    values = [_db(abs(v)) for v in levels]
    assert summary["mean_tpsnr"] == pytest.approx(np.mean(values))
    assert summary["std_tpsnr"] == pytest.approx(np.std(values))
    assert summary["min_tpsnr"] == pytest.approx(_db(12))
    assert summary["min_tpsnr_frame"] == 5
    assert summary["frames"] == 6 and summary["samples"] == 5


def test_negative_outliers_are_reported_by_frame():
    summary = _monitor_summary([3, -3, 3, -3, 3, -3, 12, -3, 3, -3])
    assert summary["negative_outlier_frames"] == [7]
    assert summary["negative_outliers"] == 1


def _monitor_summary(levels, **kwargs):
    monitor = QualityMonitor(crop=None, stride=1, **kwargs)
    _feed(monitor, clip_from_levels(levels))
    return monitor.summary()


def test_identical_pairs_are_counted_and_left_out_never_nan():
    summary = _monitor_summary([3, 0, 0, -3, 0])
    assert summary["identical_pairs"] == 3
    assert summary["mean_tpsnr"] == pytest.approx(_db(3))
    assert summary["jitter_events"] == 0
    json.dumps(summary, allow_nan=False)  # no NaN or inf anywhere


def test_all_identical_clip_reports_none_not_nan():
    frame = np.full(SHAPE, 100, np.uint8)
    monitor = QualityMonitor(crop=None, stride=1)
    _feed(monitor, [frame] * 5)
    summary = monitor.summary()
    assert summary["identical_pairs"] == 4
    assert summary["mean_tpsnr"] is None and summary["min_tpsnr"] is None
    json.dumps(summary, allow_nan=False)


def test_empty_and_single_frame_summaries_are_json_safe():
    monitor = QualityMonitor()
    assert monitor.summary()["samples"] == 0
    monitor.update(np.zeros(SHAPE, np.uint8))
    summary = monitor.summary()
    assert summary["frames"] == 1 and summary["mean_tpsnr"] is None
    json.dumps(summary, allow_nan=False)


def test_centre_crop_only_sees_the_centre():
    frames = [np.full((100, 120, 3), 50, np.uint8) for _ in range(3)]
    frames[2][:10, :10] = 255  # change in a corner, outside a 40x40 centre crop
    samples = _feed(QualityMonitor(crop=(40, 40), stride=1), frames)
    assert samples[-1].tpsnr == math.inf
    assert samples[-1].box == (40, 30, 80, 70)  # (x0, y0, x1, y1)
    samples = _feed(QualityMonitor(crop=None, stride=1), frames)
    assert math.isfinite(samples[-1].tpsnr)


def test_crop_larger_than_frame_is_clamped():
    samples = _feed(QualityMonitor(crop=(640, 640), stride=1), clip_from_levels([3]))
    assert samples[0].box == (0, 0, SHAPE[1], SHAPE[0])


def test_box_per_frame_overrides_crop_and_is_clipped():
    frames = clip_from_levels([3, 5])
    monitor = QualityMonitor(crop=(4, 4), stride=1, box=(0, 0, 10, 10))
    first = monitor.update(frames[0])
    assert first is None
    sample = monitor.update(frames[1])
    assert sample.box == (0, 0, 10, 10)
    sample = monitor.update(frames[2], box=(20, 10, 70, 60))
    assert sample.box == (20, 10, SHAPE[1], SHAPE[0])
    expected = psnr(frames[2][10:24, 20:32], frames[1][10:24, 20:32])
    assert sample.tpsnr == pytest.approx(expected)


def test_colour_drift_and_sharpness():
    base = np.full(SHAPE, 120, np.uint8)
    warmer = base.copy()
    warmer[..., 2] = 160  # more red
    frames = [base, base, warmer.copy(), warmer]
    samples = _feed(QualityMonitor(crop=None, stride=1), frames)
    assert samples[0].color_drift == 0.0
    expected = math.dist(mean_lab(warmer), mean_lab(base))
    assert samples[1].color_drift == pytest.approx(expected, rel=1e-6)
    assert expected > 5
    summary = QualityMonitor(crop=None, stride=1)
    _feed(summary, frames)
    assert summary.summary()["max_color_drift"] == pytest.approx(expected, rel=1e-6)
    assert samples[0].sharpness == 0.0  # flat frames have no edges


def test_save_json_has_schema_and_frames(tmp_path):
    monitor = QualityMonitor(crop=None, stride=1)
    _feed(monitor, clip_from_levels([3, 0, 12]))
    path = tmp_path / "r.json"
    monitor.save_json(path)
    report = json.loads(path.read_text())
    assert report["schema"] == "ffaccel.quality/2"
    assert report["summary"]["identical_pairs"] == 1
    assert [f["tpsnr"] for f in report["frames"]][1] is None
    assert [f["identical"] for f in report["frames"]] == [False, True, False]


@pytest.mark.parametrize(
    "kwargs, error, word",
    [
        ({"stride": 0}, ValueError, "stride"),
        ({"stride": 1.5}, ValueError, "stride"),
        ({"crop": (0, 10)}, ValueError, "crop"),
        ({"crop": 640}, TypeError, "crop"),
        ({"jitter_threshold_db": -1}, ValueError, "jitter_threshold_db"),
        ({"tail_frames": -1}, ValueError, "tail_frames"),
        ({"box": (0, 0, 0, 5)}, ValueError, "box"),
        ({"box": (10, 10, 5, 20)}, ValueError, r"x1 > x0.*\(x, y, x \+ w, y \+ h\)"),
        ({"box": (0, 0, 5)}, TypeError, "box"),
        ({"region": (0, 0, 5, 5)}, TypeError, r"region: .*box=\(x0, y0, x1, y1\)"),
    ],
)
def test_constructor_bad_arguments(kwargs, error, word):
    with pytest.raises(error, match=word):
        QualityMonitor(**kwargs)


def test_update_bad_arguments():
    monitor = QualityMonitor(stride=1)
    good = np.zeros(SHAPE, np.uint8)
    with pytest.raises(TypeError, match="frame: expected dtype uint8"):
        monitor.update(good.astype(np.float32))
    with pytest.raises(ValueError, match="frame: expected shape"):
        monitor.update(good[..., 0])
    with pytest.raises(TypeError, match="frame: expected"):
        monitor.update(good.tolist())
    monitor.update(good)
    with pytest.raises(ValueError, match="frame shape"):
        monitor.update(np.zeros((8, 8, 3), np.uint8))
    with pytest.raises(ValueError, match="reference must be given"):
        monitor.update(good, reference=good)
    with pytest.raises(ValueError, match="box"):
        monitor.update(good, box=(1000, 1000, 1010, 1010))
    with pytest.raises(TypeError, match="region"):
        monitor.update(good, region=(0, 0, 8, 8))


def test_frames_are_copied_so_reused_buffers_are_safe():
    frames = clip_from_levels([4, 4])
    buffer = np.empty(SHAPE, np.uint8)
    monitor = QualityMonitor(crop=None, stride=1)
    for frame in frames:
        buffer[...] = frame
        sample = monitor.update(buffer)
    assert sample.tpsnr == pytest.approx(_db(4))


@pytest.mark.cuda
@pytest.mark.parametrize("kind", ["cupy", "torch"])
def test_gpu_monitor_matches_numpy(kind):
    cupy = pytest.importorskip("cupy")
    frames = clip_from_levels(_planted_levels(30, {10, 20}), seed=3)
    frames = [np.ascontiguousarray(np.pad(f, ((4, 4), (6, 6), (0, 0)), mode="reflect")) for f in frames]
    if kind == "torch":
        torch = pytest.importorskip("torch")
        to_device = lambda f: torch.from_numpy(f).cuda()
    else:
        to_device = cupy.asarray
    cpu = QualityMonitor(crop=(20, 16), stride=2)
    gpu = QualityMonitor(crop=(20, 16), stride=2)
    for i, frame in enumerate(frames):
        box = (3, 2, 28, 22) if i % 3 == 0 else None
        a = cpu.update(frame, box=box)
        b = gpu.update(to_device(frame), box=box)
        assert (a is None) == (b is None)
        if a is not None:
            assert a.frame == b.frame and a.box == b.box
            assert b.tpsnr == a.tpsnr  # exact integer SSE on both sides
            np.testing.assert_allclose(b.lab, a.lab, atol=1e-3)
            assert b.sharpness == pytest.approx(a.sharpness, rel=1e-5)
    summary_cpu, summary_gpu = cpu.summary(), gpu.summary()
    assert summary_gpu["jitter_event_frames"] == summary_cpu["jitter_event_frames"] == [10, 20]
    assert summary_gpu["mean_tpsnr"] == pytest.approx(summary_cpu["mean_tpsnr"], abs=1e-9)


def test_skipping_unneeded_frames_gives_the_same_samples():
    frames = clip_from_levels([3, 4, 5, 6, 7, 8, -9, -10, -11, -12])
    full = QualityMonitor(crop=None, stride=3)
    _feed(full, frames)
    lean = QualityMonitor(crop=None, stride=3)
    used = []
    for index, frame in enumerate(frames):
        if lean.next_frame_needed():
            used.append(index)
            lean.update(frame)
        else:
            lean.skip()
    assert used == [2, 3, 5, 6, 8, 9]
    assert lean.samples == full.samples and lean.frames_seen == full.frames_seen == 11
    with pytest.raises(ValueError, match="pass it to update"):
        QualityMonitor(stride=1).skip()


def test_a_rejected_update_leaves_the_monitor_unchanged():
    frames = clip_from_levels([3, 4, 5])
    monitor = QualityMonitor(crop=None, stride=1)
    with pytest.raises(TypeError, match="reference"):
        monitor.update(frames[0], reference=frames[0].astype(np.float32))
    monitor.update(frames[0])  # still free to run without a reference
    with pytest.raises(ValueError, match="box"):
        monitor.update(frames[1], box=(500, 500, 510, 510))
    assert monitor.frames_seen == 1 and monitor.samples == []
    sample = monitor.update(frames[1])
    assert sample.frame == 1 and sample.tpsnr == pytest.approx(_db(3))


@pytest.mark.cuda
def test_gpu_frames_written_on_a_torch_side_stream_are_read_after_the_write():
    torch = pytest.importorskip("torch")
    pytest.importorskip("cupy")
    frames = clip_from_levels([3, 4, 12, 3, 4])
    cpu = QualityMonitor(crop=None, stride=1)
    gpu = QualityMonitor(crop=None, stride=1)
    side = torch.cuda.Stream()
    for frame in frames:
        cpu.update(frame)
        with torch.cuda.stream(side):
            # Written on the side stream, and measured while it is current: the monitor
            # must run on that stream, or it could read the buffer before the copy lands.
            device_frame = torch.empty(frame.shape, dtype=torch.uint8, device="cuda")
            device_frame.copy_(torch.from_numpy(frame).pin_memory(), non_blocking=True)
            gpu.update(device_frame)
    assert [s.tpsnr for s in gpu.samples] == [s.tpsnr for s in cpu.samples]
