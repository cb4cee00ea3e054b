"""QualityMonitor: fed frame by frame, measures temporal stability of a clip."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from ffaccel import _checks
from ffaccel._arrays import device_scope, to_host_floats
from ffaccel.quality import report as _report
from ffaccel.quality._sample import Box, FrameSample
from ffaccel.quality.events import find_jitter_events, find_negative_outliers, finite_stats
from ffaccel.quality.metrics import (
    _laplacian_variance_device,
    _mean_lab_device,
    _sum_squared_difference,
    psnr_from_mse,
)
from ffaccel.quality.relative import delta_tpsnr, stability_verdict

__all__ = ["FrameSample", "QualityMonitor", "frame_needed"]

def frame_needed(index: int, stride: int) -> bool:
    """Whether a monitor with this ``stride`` uses frame ``index`` (0-based).

    Frame i is measured when i >= stride and i % stride == 0, and kept as the
    previous frame when (i + 1) % stride == 0.

    >>> [i for i in range(10) if frame_needed(i, 3)]
    [2, 3, 5, 6, 8, 9]
    """
    return (index >= stride and index % stride == 0) or (index + 1) % stride == 0


def _parse_pair(value: Any, name: str) -> tuple[int, int] | None:
    if value is None:
        return None
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        raise TypeError(f"{name}: expected a (width, height) pair or None, got {value!r}")
    if not all(isinstance(v, (int, np.integer)) and v > 0 for v in value):
        raise ValueError(f"{name}: expected two positive ints, got {value!r}")
    return int(value[0]), int(value[1])


def _parse_box(value: Any, name: str) -> Box | None:
    if value is None:
        return None
    if not isinstance(value, (tuple, list, np.ndarray)) or len(value) != 4:
        raise TypeError(f"{name}: expected an (x, y, w, h) box or None, got {value!r}")
    if not all(isinstance(v, (int, np.integer)) for v in value):
        raise TypeError(f"{name}: expected four ints, got {value!r}")
    x, y, w, h = (int(v) for v in value)
    if w <= 0 or h <= 0:
        raise ValueError(f"{name} width and height must be > 0, got {value!r}")
    return x, y, w, h


def _clip_box(box: Box, height: int, width: int, name: str) -> Box:
    x, y, w, h = box
    x0, y0 = max(x, 0), max(y, 0)
    x1, y1 = min(x + w, width), min(y + h, height)
    if x1 - x0 < 3 or y1 - y0 < 3:
        raise ValueError(
            f"{name} {box} leaves less than 3x3 pixels inside the {width}x{height} frame"
        )
    return x0, y0, x1 - x0, y1 - y0


def _centre_box(height: int, width: int, crop: tuple[int, int] | None) -> Box:
    if crop is None:
        return 0, 0, width, height
    w, h = min(crop[0], width), min(crop[1], height)
    return (width - w) // 2, (height - h) // 2, w, h


class QualityMonitor:
    """Temporal-stability monitor for a clip, fed one frame at a time.

    Every ``stride``-th frame ``i`` (i >= stride) is compared with frame ``i - 1``:
    tPSNR on the measured box, mean Lab colour and Laplacian sharpness of frame i.
    The box is, by priority: the ``region`` given to ``update``, the ``region`` given
    here, else the centre ``crop`` (clamped to the frame). Only the one previous frame
    is kept (copied, so callers may reuse their buffers), plus a few floats per
    sample, so memory stays constant in the clip's length apart from those floats.

    Args:
        crop: ``(width, height)`` of the centre crop in pixels, or None for the whole
            frame. Default 640x640.
        stride: measure every stride-th frame, >= 1. Default 2.
        jitter_threshold_db: a jitter event is a drop of more than this (dB) below the
            running mean of the previous 5 values. Default 3.0.
        tail_frames: events in the last this-many frames count as tail spikes.
        region: fixed ``(x, y, w, h)`` box used instead of the centre crop.

    Frames are (H, W, 3|4) uint8 BGR[A], numpy or CUDA (cupy, torch CUDA tensors).
    With CUDA frames every reduction runs on the GPU; one small array of results per
    sample comes back to the host.

    Example:
        >>> import numpy as np
        >>> rng = np.random.default_rng(0)
        >>> base = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)
        >>> monitor = QualityMonitor(crop=(32, 32), stride=1)
        >>> for i in range(6):
        ...     _ = monitor.update(np.roll(base, i, axis=1))
        >>> s = monitor.summary()
        >>> s["samples"], s["jitter_events"], s["mean_tpsnr"] < 20
        (5, 0, True)
    """

    def __init__(
        self,
        crop: tuple[int, int] | None = (640, 640),
        stride: int = 2,
        jitter_threshold_db: float = 3.0,
        tail_frames: int = 30,
        region: Box | None = None,
    ) -> None:
        self.crop = _parse_pair(crop, "crop")
        if not isinstance(stride, (int, np.integer)) or isinstance(stride, bool) or stride < 1:
            raise ValueError(f"stride: expected an int >= 1, got {stride!r}")
        if (
            not isinstance(jitter_threshold_db, (int, float))
            or not math.isfinite(jitter_threshold_db)
            or jitter_threshold_db <= 0
        ):
            raise ValueError(f"jitter_threshold_db: expected a finite number > 0, got {jitter_threshold_db!r}")
        if not isinstance(tail_frames, (int, np.integer)) or tail_frames < 0:
            raise ValueError(f"tail_frames: expected an int >= 0, got {tail_frames!r}")
        self.stride = int(stride)
        self.jitter_threshold_db = float(jitter_threshold_db)
        self.tail_frames = int(tail_frames)
        self.region = _parse_box(region, "region")
        self.samples: list[FrameSample] = []
        self.frames_seen = 0
        self._previous: Any = None
        self._previous_reference: Any = None
        self._shape: tuple[int, ...] | None = None
        self._uses_reference: bool | None = None
        self._first_lab: tuple[float, float, float] | None = None

    @property
    def relative(self) -> bool:
        """True once frames have been fed with a reference (relative mode)."""
        return bool(self._uses_reference)

    def next_frame_needed(self) -> bool:
        """Whether the next frame's pixels are used; if not, ``skip()`` may replace ``update``.

        With stride 1 or 2 every frame is needed; with stride s >= 3 only frames
        ``k*s - 1`` and ``k*s`` are, so a caller can avoid decoding work for the rest.
        """
        return frame_needed(self.frames_seen, self.stride)

    def skip(self) -> None:
        """Count the next frame without looking at it (only when ``next_frame_needed()`` is False)."""
        if self.next_frame_needed():
            raise ValueError(f"frame {self.frames_seen} is measured or kept; pass it to update()")
        self.frames_seen += 1
        self._previous = self._previous_reference = None

    def update(self, frame: Any, *, reference: Any = None, region: Box | None = None) -> FrameSample | None:
        """Feed the next frame; return its ``FrameSample`` when it is a sampled frame.

        Args:
            frame: (H, W, 3|4) uint8 BGR[A] output frame, numpy or CUDA.
            reference: the matching target (unswapped) frame, same shape and device,
                for relative mode; give it on every frame or on none.
            region: ``(x, y, w, h)`` box for this frame (e.g. the face), overriding the
                monitor's region and crop; clipped to the frame.
        """
        # Validate everything before any state changes, so a rejected call leaves the
        # monitor exactly as it was.
        frame_arr, xp = _checks.xp_image(frame, "frame", (np.uint8,), (3, 4), min_side=3)
        uses_reference = reference is not None
        if self._shape is not None:
            if tuple(frame_arr.shape) != self._shape:
                raise ValueError(f"frame shape {tuple(frame_arr.shape)} differs from the first frame's {self._shape}")
            if uses_reference != self._uses_reference:
                raise ValueError("reference must be given with every frame or with none")
        ref_arr = None
        if reference is not None:
            ref_arr, ref_xp = _checks.xp_image(reference, "reference", (np.uint8,), (3, 4), min_side=3)
            if ref_xp is not xp:
                raise ValueError("reference: expected an array on the same device as frame (both numpy or both CUDA)")
            if ref_arr.shape != frame_arr.shape:
                raise ValueError(
                    f"reference shape {tuple(ref_arr.shape)} differs from frame shape {tuple(frame_arr.shape)}"
                )
        index = self.frames_seen
        measured = index >= self.stride and index % self.stride == 0
        box = self._box(frame_arr.shape[0], frame_arr.shape[1], _parse_box(region, "region"))

        self._shape = tuple(frame_arr.shape)
        self._uses_reference = uses_reference
        self.frames_seen += 1
        with device_scope(frame):
            sample = self._measure(xp, index, box, frame_arr, ref_arr) if measured else None
            if (index + 1) % self.stride == 0:
                # Frame i - 1 of the next measured pair: keep a private copy.
                self._previous = frame_arr.copy()
                self._previous_reference = None if ref_arr is None else ref_arr.copy()
            else:
                self._previous = self._previous_reference = None
        return sample

    def _box(self, height: int, width: int, override: Box | None) -> Box:
        """The measured box for a frame: per-frame region, else fixed region, else centre crop."""
        if override is not None:
            return _clip_box(override, height, width, "region")
        if self.region is not None:
            return _clip_box(self.region, height, width, "region")
        return _centre_box(height, width, self.crop)

    def _measure(self, xp: Any, index: int, box: Box, frame: Any, reference: Any) -> FrameSample:
        x, y, w, h = box
        window = (slice(y, y + h), slice(x, x + w), slice(0, 3))
        current = frame[window]
        parts = [
            _sum_squared_difference(xp, current, self._previous[window]).reshape(1),
            _mean_lab_device(xp, current).reshape(3),
            _laplacian_variance_device(xp, current).reshape(1),
        ]
        if reference is not None:
            parts.append(_sum_squared_difference(xp, reference[window], self._previous_reference[window]).reshape(1))
        # One device->host transfer per sample.
        values = to_host_floats(xp.concatenate([p.astype(xp.float64) for p in parts]))
        count = h * w * 3
        tpsnr = psnr_from_mse(values[0] / count)
        lab = (values[1], values[2], values[3])
        if self._first_lab is None:
            self._first_lab = lab
        drift = math.dist(lab, self._first_lab)
        ref_tpsnr = delta = None
        if reference is not None:
            ref_tpsnr = psnr_from_mse(values[5] / count)
            delta = delta_tpsnr(tpsnr, ref_tpsnr)
        sample = FrameSample(index, box, tpsnr, lab, drift, values[4], ref_tpsnr, delta)
        self.samples.append(sample)
        return sample

    def jitter_basis(self) -> list[float | None]:
        """The series jitter and outliers are found on: ΔtPSNR in relative mode, else tPSNR."""
        if self.relative:
            return [s.delta_tpsnr for s in self.samples]
        return [s.tpsnr for s in self.samples]

    def events(self) -> list[dict[str, float | int]]:
        """Jitter events: ``{"frame", "value_db", "running_mean_db", "drop_db"}`` each."""
        basis = self.jitter_basis()
        out = []
        for position, running_mean in find_jitter_events(basis, self.jitter_threshold_db):
            value = float(basis[position])  # type: ignore[arg-type]
            out.append({
                "frame": self.samples[position].frame,
                "value_db": value,
                "running_mean_db": running_mean,
                "drop_db": running_mean - value,
            })
        return out

    def summary(self) -> dict[str, Any]:
        """Summary figures; JSON-safe (no NaN, no inf: missing figures are None).

        tPSNR statistics are over finite values only; identical pairs (infinite PSNR)
        are left out of mean/std/min/max and counted in ``identical_pairs``. The full
        key list and meaning is in docs/quality.md.
        """
        tpsnr = finite_stats([s.tpsnr for s in self.samples])
        events = self.events()
        tail_start = self.frames_seen - self.tail_frames
        tail = [e["frame"] for e in events if e["frame"] >= tail_start]
        outliers = [self.samples[p].frame for p in find_negative_outliers(self.jitter_basis())]
        drift = finite_stats([s.color_drift for s in self.samples])
        sharp = finite_stats([s.sharpness for s in self.samples])
        min_frame = None
        if tpsnr["min"] is not None:
            min_frame = next(s.frame for s in self.samples if s.tpsnr == tpsnr["min"])
        result: dict[str, Any] = {
            "frames": self.frames_seen,
            "samples": len(self.samples),
            "mean_tpsnr": tpsnr["mean"],
            "std_tpsnr": tpsnr["std"],
            "min_tpsnr": tpsnr["min"],
            "max_tpsnr": tpsnr["max"],
            "min_tpsnr_frame": min_frame,
            "identical_pairs": tpsnr["infinite"],
            "jitter_basis": "delta_tpsnr" if self.relative else "tpsnr",
            "jitter_events": len(events),
            "jitter_event_frames": [e["frame"] for e in events],
            "tail_spikes": len(tail),
            "tail_spike_frames": tail,
            "negative_outliers": len(outliers),
            "negative_outlier_frames": outliers,
            "mean_color_drift": drift["mean"],
            "max_color_drift": drift["max"],
            "mean_sharpness": sharp["mean"],
            "min_sharpness": sharp["min"],
            "sharpness_change": self._sharpness_change(),
        }
        if self.relative:
            ref = finite_stats([s.reference_tpsnr for s in self.samples])
            deltas = [s.delta_tpsnr for s in self.samples]
            delta = finite_stats(deltas)
            result.update({
                "mean_reference_tpsnr": ref["mean"],
                "mean_delta_tpsnr": delta["mean"],
                "std_delta_tpsnr": delta["std"],
                "min_delta_tpsnr": delta["min"],
                "delta_undefined_pairs": sum(1 for d in deltas if d is None),
                "stability_change_db": delta["mean"],
                "verdict": stability_verdict(delta["mean"]),
            })
        return result

    def _sharpness_change(self) -> float | None:
        """Last sample's sharpness over the first's (1.0 = unchanged); None if undefined."""
        if len(self.samples) < 2 or self.samples[0].sharpness <= 0:
            return None
        return self.samples[-1].sharpness / self.samples[0].sharpness

    def save_json(self, path: str | Path) -> None:
        """Write the JSON report (schema in docs/quality.md)."""
        _report.write_json(self, path)

    def save_plot(self, path: str | Path) -> None:
        """Write a PNG plot of per-frame tPSNR with jitter events marked (needs matplotlib)."""
        _report.write_plot(self, path)

    def save_html(self, path: str | Path) -> None:
        """Write a self-contained HTML summary page embedding the plot (needs matplotlib)."""
        _report.write_html(self, path)
