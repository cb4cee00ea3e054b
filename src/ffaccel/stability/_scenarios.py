"""Synthetic face tracks with ground truth, noise models and the stability
metrics; shared by ``benchmarks/bench_stability.py`` and the tests (numpy only).

Faces are weak-perspective images of ``_face.FACE_TEMPLATE`` (scale 2 px per
unit: a face about 270 px wide, as in 1080p footage). Frames are 1/30 s.

Metrics (all on frames where the method has an output; jitter and rmse skip
the first WARMUP frames of every method alike, so start-up transients do not
dominate 150-frame clips):
    jitter   RMS over landmarks and coordinates of the second difference in
             time of (output - truth), px. Raw i.i.d. noise of std s gives
             s * sqrt(6).
    lag      on ramp frames: mean over frames of -(e . v) / |v|^2 summed over
             landmarks, where e is output - truth and v the true velocity
             per frame, i.e. frames behind the truth.
    rmse     sqrt(mean |output - truth|^2), px (Euclidean per landmark).
    recovery frames after a cut until the frame's landmark RMSE <= 3 px.
    spikes   tail frames where the crop (5-point similarity, after the guard
             for "ours") moves > 0.5 px while the truth moves < 0.05 px.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from ._face import FACE_TEMPLATE, crop_corners_in_image, five_points, project_template, similarity_fit
from .one_euro import OneEuroFilter

FPS = 30.0
SCALE = 2.0
WARMUP = 10
SCENARIOS = ("still", "slow_pan", "fast_turn", "shaky", "cut", "dropouts", "tail")
NOISE_MODELS = ("gauss", "quantized", "outliers")
TUNE_SCENARIOS = ("still", "slow_pan", "fast_turn", "shaky")
GRID_CUTOFF = (0.1, 0.2, 0.4, 0.7, 1.0, 1.5, 2.0, 3.0, 5.0)  # Hz
GRID_BETA = (0.0, 0.001, 0.003, 0.01, 0.03, 0.1)  # 1/px


@dataclass
class Scenario:
    name: str
    truth: np.ndarray  # (T, 68, 2)
    ramp: np.ndarray  # (T,) bool: frames where the lag is measured
    cut: int | None = None  # first frame of the new shot
    tail_frames: int = 12
    dropped: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))


def _track(poses: np.ndarray) -> np.ndarray:
    """(T, 6) [yaw, pitch, roll, scale, cx, cy] -> (T, 68, 2)."""
    return np.stack([project_template(*p[:4], center=p[4:]) for p in poses])


def make_scenario(name: str, frames: int = 150, seed: int = 0) -> Scenario:
    """Ground truth of one named scenario (``SCENARIOS``)."""
    rng = np.random.default_rng(seed)
    t = np.arange(frames, dtype=float)
    poses = np.tile([10.0, -5.0, 3.0, SCALE, 640.0, 360.0], (frames, 1))
    ramp = np.zeros(frames, bool)
    cut = None
    dropped = np.zeros(frames, bool)
    start = 20
    if name == "still":
        pass
    elif name in ("slow_pan", "dropouts"):
        poses[:, 4] += np.clip(t - start, 0, None) * 1.0
        ramp[start + 10 :] = True
        if name == "dropouts":
            dropped[rng.choice(np.arange(start, frames), frames // 10, replace=False)] = True
            dropped[frames // 2 : frames // 2 + 5] = True
    elif name == "fast_turn":
        turn = np.clip(t - start, 0, 40)
        poses[:, 0] = -30.0 + 1.5 * turn
        poses[:, 4] += 3.0 * turn
        ramp[start + 10 : start + 40] = True
    elif name == "shaky":
        ph = rng.uniform(0, 2 * np.pi, 4)
        poses[:, 4] += 4.0 * np.sin(2 * np.pi * 1.3 * t / FPS + ph[0]) + 2.5 * np.sin(2 * np.pi * 2.7 * t / FPS + ph[1])
        poses[:, 5] += 3.0 * np.sin(2 * np.pi * 1.1 * t / FPS + ph[2])
        poses[:, 2] += 2.0 * np.sin(2 * np.pi * 0.8 * t / FPS + ph[3])
    elif name == "cut":
        cut = frames // 2
        poses[:, 4] += 0.5 * t
        poses[cut:] = poses[cut:] * 1.0
        poses[cut:, [0, 3, 4, 5]] = [-15.0, 1.6, 1000.0 + 0.5 * (t[cut:] - cut)[0], 520.0]
        poses[cut:, 4] += 0.5 * (t[cut:] - cut)
    elif name == "tail":
        stop = frames - 25
        decel = frames - 45
        speed = np.where(t < decel, 2.0, np.clip(2.0 * (stop - t) / (stop - decel), 0, None))
        poses[:, 4] += np.concatenate([[0.0], np.cumsum(speed[:-1])])
    else:
        raise ValueError(f"unknown scenario {name!r}")
    return Scenario(name, _track(poses), ramp, cut, 12, dropped)


def add_noise(truth: np.ndarray, model: str, sigma: float, rng: np.random.Generator) -> np.ndarray:
    """Detector measurements: "gauss" (std sigma), "quantized" (2 px grid, as a
    64-px heatmap read on a 128-px face region, plus 0.3 px noise), "outliers"
    (gauss plus 1 % of landmarks thrown 10-20 px)."""
    if model == "gauss":
        return truth + rng.normal(0.0, sigma, truth.shape)
    if model == "quantized":
        return 2.0 * np.round((truth + rng.normal(0.0, 0.3, truth.shape)) / 2.0)
    if model == "outliers":
        out = truth + rng.normal(0.0, sigma, truth.shape)
        hit = rng.random(truth.shape[:2]) < 0.01
        ang = rng.uniform(0, 2 * np.pi, hit.sum())
        rad = rng.uniform(10, 20, hit.sum())
        out[hit] += np.stack([rad * np.cos(ang), rad * np.sin(ang)], 1)
        return out
    raise ValueError(f"unknown noise model {model!r}")


class PlainEMA:
    """The EMA baseline: ``y += alpha * (z - y)``, nothing else."""

    def __init__(self, alpha: float = 0.25) -> None:
        self.alpha = alpha
        self.reset()

    def reset(self) -> None:
        self._y = None

    def update(self, points: np.ndarray, timestamp: float | None = None) -> np.ndarray:
        z = np.asarray(points, float)
        self._y = z.copy() if self._y is None else self._y + self.alpha * (z - self._y)
        return self._y.copy()


def run_causal(factory: Callable[[], object], measured: np.ndarray, dropped: np.ndarray) -> np.ndarray:
    """Feed a causal filter frame by frame; dropped frames give NaN and no update."""
    flt = factory()
    out = np.full_like(measured, np.nan)
    for i, z in enumerate(measured):
        if not dropped[i]:
            out[i] = flt.update(z)
    return out


_CANON = five_points(FACE_TEMPLATE[:, :2] - FACE_TEMPLATE[:, :2].mean(0))


def similarity_to_crop(landmarks: np.ndarray, crop: float = 256.0) -> np.ndarray:
    """(2, 3) image-to-crop similarity from the 5 alignment points (least squares)."""
    return similarity_fit(five_points(landmarks), _CANON * (crop / 160.0) + crop / 2.0)


def tail_spikes(output: np.ndarray, truth: np.ndarray, tail_frames: int, guard=None) -> int:
    """Count tail frames where the crop moves > 0.5 px while the truth moves < 0.05 px."""
    frames = len(truth)
    spikes = 0
    prev = prev_true = None
    if guard is not None:
        guard.set_length(frames)
        guard.reset()
    for i in range(frames - tail_frames - 1, frames):
        m = similarity_to_crop(output[i])
        if guard is not None:
            m = guard.update(m, i)[0]
        cur = crop_corners_in_image(m)
        cur_true = crop_corners_in_image(similarity_to_crop(truth[i]))
        if prev is not None and i >= frames - tail_frames:
            moved = np.abs(cur - prev).max()
            moved_true = np.abs(cur_true - prev_true).max()
            spikes += int(moved > 0.5 and moved_true < 0.05)
        prev, prev_true = cur, cur_true
    return spikes


def metrics(output: np.ndarray, sc: Scenario) -> dict[str, float]:
    """jitter, lag, rmse, recovery (as in the module doc) of one output track."""
    err = output - sc.truth
    err_all = err
    err = err.copy()
    err[:WARMUP] = np.nan
    d2 = err[2:] - 2 * err[1:-1] + err[:-2]
    if sc.cut is not None:  # second differences straddling the cut measure the cut, not jitter
        d2 = np.delete(d2, [sc.cut - 2, sc.cut - 1], axis=0)
    d2 = d2[np.all(np.isfinite(d2), axis=(1, 2))]  # also drops frames next to dropouts
    res = {"jitter": float(np.sqrt(np.mean(d2**2))) if len(d2) else float("nan")}
    ok = np.all(np.isfinite(err), axis=(1, 2))
    res["rmse"] = float(np.sqrt(np.mean(np.sum(err[ok] ** 2, axis=2))))
    if sc.ramp.any():
        vel = np.gradient(sc.truth, axis=0)
        ok_all = np.all(np.isfinite(err_all), axis=(1, 2))
        sel = sc.ramp & ok_all
        num = -np.sum(err_all[sel] * vel[sel], axis=(1, 2))
        den = np.sum(vel[sel] ** 2, axis=(1, 2))
        res["lag"] = float(np.mean(num / den))
    if sc.cut is not None:
        per_frame = np.sqrt(np.mean(np.sum(err_all[sc.cut :] ** 2, axis=2), axis=1))
        good = np.nonzero(per_frame <= 3.0)[0]
        res["recovery"] = float(good[0]) if len(good) else float("inf")
    return res


def tune_one_euro(frames: int, sigma: float = 1.5, seed: int = 1000) -> tuple[tuple[float, float], dict]:
    """Grid search on its own seed: least mean jitter with mean ramp lag <= 1 frame."""
    cases = []
    rng = np.random.default_rng(seed)
    for name in TUNE_SCENARIOS:
        sc = make_scenario(name, frames, seed)
        cases.append((sc, add_noise(sc.truth, "gauss", sigma, rng)))
    best = None
    fallback = None
    for mc in GRID_CUTOFF:
        for beta in GRID_BETA:
            ms = [metrics(run_causal(lambda: OneEuroFilter(mc, beta), z, sc.dropped), sc) for sc, z in cases]
            jit = float(np.mean([m["jitter"] for m in ms]))
            lag = float(np.mean([m["lag"] for m in ms if "lag" in m]))
            if lag <= 1.0 and (best is None or jit < best[0]):
                best = (jit, lag, (mc, beta))
            if fallback is None or lag < fallback[1]:
                fallback = (jit, lag, (mc, beta))
    chosen = best or fallback
    return chosen[2], {"jitter": chosen[0], "lag": chosen[1], "met_lag_budget": best is not None}
