"""``stabilize_track``: scale-free landmark stabilisation that tells detector
noise from head motion, in three modes (offline, fixed-lag, causal).

Method (details in docs/stability.md):

1. Each frame's points are split into a rigid similarity (centroid, log
   scale, rotation of the least-squares fit of a reference shape) and a
   per-point residual (expression), all in face units (``_rigid``). Real
   detectors' noise is mostly a rigid shift of all points together; here it
   lands in the translation channels, where it is measured and filtered on
   its own instead of being mistaken for head motion.
2. Every channel gets a constant-velocity motion model whose process noise
   is adapted to the data, so still stretches are smoothed hard and fast
   motion passes. The measurement noise is estimated from the track (median
   of fourth differences offline, a running median of second differences
   streaming); nothing is in pixels, nothing needs tuning.

   - offline: a bank of steady-state RTS smoothers, the level chosen per
     frame and channel by the ICI rule (``_bank``); zero lag. The last frames
     of each shot become a straight line where the smoothed tail is straight
     to within the noise (``_ends``): no pop at the end of a clip.
   - fixed_lag: adaptive Kalman filter + RTS over the last ``lag`` frames.
   - causal: the same adaptive Kalman filter, no future frames.

   The residual channels are filtered the same way but never harder than a
   gentler floor, so expressions (mouth, blinks) are kept.
3. Cuts (given, or detected by a scale-free rule, ``_cuts``) restart
   everything; missed frames (NaN rows) are interpolated offline and
   carried on at the filtered velocity causally. Offline, a short run that
   starts like a cut and returns to where the face was (a detector
   excursion, ``_cuts.excursions``) is treated as missed frames; fixed-lag,
   the same where the return comes within the look-ahead.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import numpy as np

from ffaccel import _core
from ffaccel._checks import as_float_array, check_coordinates

from . import _bank
from . import _cuts
from ._ends import END_FRAMES, straighten_end
from ._modes import MODES, check_mode
from .stabilizer import LandmarkStabilizer

__all__ = ["stabilize_track", "MODES"]

#: Noise floors, in face units (RMS radius 1): a noise-free track must not divide by zero.
_FLOOR_RIGID = 1e-4**2
_FLOOR_RESID = 1e-4**2
#: Smoothest bank level the residual (expression) channels may use: gentler than the rigid ones.
_RESID_LIGHTEST = 4
#: Robust standard deviations off the 5-frame median at which a frame counts as a detector glitch.
OUTLIER = 5.0


def _check_landmarks(landmarks) -> np.ndarray:
    arr = as_float_array(landmarks, "landmarks", (None, None, 2), allow_nan=True)
    if arr.shape[0] == 0:
        raise ValueError("landmarks: expected at least one frame, got shape (0, N, 2)")
    if arr.shape[1] < 2:
        raise ValueError(f"landmarks: expected at least 2 points per frame, got shape {arr.shape}")
    if np.isfinite(arr).all():  # the usual case: one pass
        check_coordinates(arr, "landmarks")
        return arr
    if np.any(np.isinf(arr)):
        raise ValueError("landmarks: expected finite values or NaN rows for missed frames, got inf")
    check_coordinates(arr, "landmarks")
    partial = np.isnan(arr).any(axis=(1, 2)) & ~np.isnan(arr).all(axis=(1, 2))
    if partial.any():
        raise ValueError(f"landmarks: expected whole NaN rows for missed frames, got a partly NaN frame {int(np.flatnonzero(partial)[0])}")
    return arr


def _check_cuts(cuts, t_len: int) -> list[int] | None:
    if cuts is None:
        return None
    try:
        values = [c for c in cuts]
    except TypeError:
        raise TypeError(f"cuts: expected a sequence of frame indices or None, got {type(cuts).__name__}") from None
    out = set()
    for c in values:
        if isinstance(c, bool) or not isinstance(c, (int, np.integer)):
            raise TypeError(f"cuts: expected int frame indices, got {c!r}")
        if not 0 < c < t_len:
            raise ValueError(f"cuts: expected frame indices in (0, {t_len}), got {int(c)}")
        out.add(int(c))
    return sorted(out)


def _check_timestamps(timestamps, t_len: int) -> np.ndarray | None:
    if timestamps is None:
        return None
    ts = as_float_array(timestamps, "timestamps", (t_len,))
    if t_len > 1 and np.any(np.diff(ts) <= 0):
        raise ValueError("timestamps: expected strictly increasing seconds")
    return ts


def _outliers(ch: np.ndarray, at: np.ndarray) -> np.ndarray:
    """(T,) bool: frames whose channels jump off their neighbours (detector glitches).

    ``ch`` (T, C) are the measured frames at frame times ``at`` (T,). Two tests
    must both fire, in the same channel, at more than ``OUTLIER`` robust
    standard deviations (1.4826 MAD of that test's values in that channel):

    - off the least-squares parabola in time through the frame's four nearest
      other frames: follows smooth motion (a fast nod), but a glitch next door
      pulls it;
    - off the median of the five frames around it: ignores up to two glitches
      in the window, but cuts the corners of fast motion.

    At the first and last kept frame of the shot the parabola would be
    extrapolated from the four next (previous) frames, whose noise it
    amplifies about 3x (variance factor x0'(X'X)^-1 x0 = 7.75 for offsets
    1..4, against 0.94 inside), so a glitch there had to be about 15 noise
    stds off to be dropped; MTCNN's first detection after a cut (a
    whole-frame search) can be 8-11 stds off (9.2 % F on the OpenCV 4.13
    Hopper 1080p / 360 px cut clip: cut recovery 2 frames). There the first
    test is instead the deviation from the least-squares straight line
    through the four next (previous) kept frames (variance factor 1.5), in
    units of that one-sided residual's own robust std: 1.4826 MAD of it at
    every frame of the track, from either side, floored at the parabola
    test's scale. The track's own curvature (a shake) and the correlation of
    its noise are in that scale, so a clean shaky start is not flagged; the
    same line test in white-noise units (the parabola test's scale x
    sqrt(1 + 1.5)) flagged the first frame of 9 of the 16 shaky clips.

    Inside the shot the parabola test's scale grows with the head's speed, x
    sqrt(1 + (v / 0.13)^2), v the median translation speed (reference-shape sizes
    per frame; the fast nod peaks near 0.26) over the kept frames within 3 of
    the frame. MTCNN's noise grows with motion blur: at the turn of a blurred
    fast nod a clean detection between biased neighbours read 7.3 robust stds
    of a scale measured mostly at rest, was dropped, and the worst frame went
    2.45 % F off (1.85 with the speed; real-detector benchmark, ``nod_blur``).
    A median over 7 frames: a glitch's own step (a partly covered face) does
    not read as speed.

    Where the head moves steadily the median of 5 is the frame itself, so that
    test's scale is at least half the first one's. Flagged frames are dropped
    and the tests repeated (3 passes at most; the scales stay those of the
    first pass). If more than half the frames would go, none does. The caller
    interpolates dropped frames, and extrapolates the trend of the nearest kept
    frames at the start or end of the shot.

    At most one frame goes at each end of the shot. The line test runs only
    at the shot's own first and last frame, not at a frame that became the
    end when its neighbour was dropped, and of a run of flagged frames that
    reaches an end only the end frame is dropped. Extrapolated over more
    frames, the trend goes wrong where a fast nod turns at the shot's end:
    on real MTCNN tracks cut at every frame (``benchmarks/bench_shot_ends.py``)
    the test dropped up to 3 end frames there and put the last one 28-59 % F
    off a detection that was 0.4-1.4 % F off. A turn also bends the line
    test's residual, so at an end frame a third test must fire too: the
    deviation from the least-squares parabola through the same four frames,
    in its own robust std (1.4826 MAD of that residual at every frame, from
    either side, floored at the parabola test's scale), above 2 (the
    core's ``end_curve``; not 5: a parabola extrapolated there amplifies the noise 3x, so a
    real first-detection glitch reads 2.9-7.4 of them on the real cut clips).
    On the pieces of bench_shot_ends.py (both track sets) it cuts those more
    than 2 % F worse than the raw detections from 75 to 30 per set.

    A glitch a few frames from an end pulls its neighbours' parabola tests
    (by up to 2/3 of its own), so the flags can form a run that reaches the
    end, and the rule above would give the glitch back with the rest. So
    where the rule gave frames back, one more pass tests the frames kept
    then (its flags stand only if enough frames stay), and the rule applies
    again. On the real-detector benchmark's tracks (both sets) that changed
    one clip: a slow pan whose MTCNN detection 3 frames into the shot was
    1.5 % F off, which the smoothed track followed (3.3x less jitter than the
    raw detections on that clip, 32x with the retest); on the pieces of
    bench_shot_ends.py, 2 of 7,104 moved (0.78 -> 0.55 and 3.53 -> 4.25 % F).
    """
    bad = np.empty(len(ch), np.uint8)
    _core.stab_outliers(np.ascontiguousarray(ch, np.float64), np.ascontiguousarray(at, np.float64), OUTLIER, 3, bad)
    return bad.view(bool)


@functools.lru_cache(maxsize=8)
def _channel_limits(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Noise floors (C,) and smoothest allowed levels (C,) int32 of the 4 + 2n channels. Read-only."""
    floor = np.full(4 + 2 * n, _FLOOR_RESID)
    floor[:4] = _FLOOR_RIGID
    lightest = np.zeros(4 + 2 * n, np.int32)
    lightest[4:] = _RESID_LIGHTEST
    for a in (floor, lightest):
        a.flags.writeable = False
    return floor, lightest


@functools.lru_cache(maxsize=8)
def _track_args(n: int, rows: int) -> tuple:
    """The bank's arguments of ``_core.stab_offline_track`` for n points and periods up to
    2^(rows - 1): pad, outlier, floor, low, mad_to_var, ends, coef, warm, norms (rows, J)
    (row e = ``_bank._noise_gains(2**e)``), gamma, erode, average. Read-only."""
    floor, lightest = _channel_limits(n)
    coef, warm = _bank._recursions()
    norms = np.stack([_bank._noise_gains(1 << e) for e in range(rows)])
    norms.flags.writeable = False
    return (_bank._PAD, OUTLIER, floor, lightest, _bank._MAD_TO_SIGMA2, _bank._ENDS, coef, warm, norms, 1.5, 3, 5)


def _offline_track(arr: np.ndarray, given: list[int] | None) -> tuple[np.ndarray, int]:
    """The offline mode without timestamps: (T, N, 2) C-contiguous float64 points, rows finite
    or NaN. One extension call smooths every shot whose frames are all measured (cuts, rigid
    split, glitch test and the dropped frames' fill, noise level, level bank, points:
    ``_core.stab_offline_track``); the shots it leaves (missed frames, short shots) take
    ``_offline_segment``.
    Returns the points and the first frame of every shot."""
    t_len, n, _ = arr.shape
    flags = np.zeros(t_len, np.uint8)
    if given is not None:
        flags[given] = 1
    out = np.empty((t_len, n, 2))
    rows = int(_bank.padded_length(t_len)).bit_length()
    left = _core.stab_offline_track(arr, given is None, _cuts.MOVE, _cuts.ZOOM, _cuts.TURN, _cuts.SHAPE,
                                    *_track_args(n, rows), flags, out)
    if left:
        starts = np.flatnonzero(flags).tolist()
        for a, b in zip(starts, [*starts[1:], t_len]):
            if flags[a] & 2:
                seg = arr[a:b]
                out[a:b] = _offline_segment(seg, ~np.isnan(seg[:, 0, 0]), None)
    starts = np.flatnonzero(flags).tolist()  # every shot's first frame (frame 0's at times)
    return out, starts if starts[:1] == [0] else [0, *starts]


def _drop_excursions(arr: np.ndarray, starts: list[int]) -> np.ndarray | None:
    """A copy of ``arr`` with the frames of every detector excursion (``_cuts.excursions``)
    made missed frames (NaN rows), so the offline mode interpolates across them; None if
    there is none (``arr`` is never written: it may be the caller's array). Only shot starts
    at most ``_cuts.EXCURSION`` frames apart can bound one, so a track without such a pair
    costs nothing more."""
    cuts = [a for a in starts if a > 0]  # frame 0 starts the track, not a cut
    if not any(b - a <= _cuts.EXCURSION for a, b in zip(cuts, cuts[1:])):
        return None
    z = arr[..., 0] + 1j * arr[..., 1]
    runs = _cuts.excursions(z, ~np.isnan(arr[:, 0, 0]), cuts)
    if not runs:
        return None
    arr = arr.copy()
    for a, b in runs:
        arr[a:b] = np.nan
    return arr


def _line_at(at: np.ndarray, y: np.ndarray, x: float) -> np.ndarray:
    """(C,) value at time ``x`` of the least-squares straight line through the (k,) times
    ``at`` and (k, C) values ``y`` (k >= 2 distinct times), in closed form: sum_k w_k y_k with
    w_k = 1/k - m (tau_k - m) / sum (tau - m)^2, tau = |at - x|, m = mean(tau). For k = 4
    the sums run in the order of the compiled one-shot path's fill (kernels/cpu/line_fit.h),
    so both give the same bytes."""
    tau = np.abs(at - x)
    k = len(tau)
    mt = tau[0]
    for j in range(1, k):
        mt = mt + tau[j]
    mt = mt / k
    dev = tau - mt
    sxx = dev[0] * dev[0]
    for j in range(1, k):
        sxx = sxx + dev[j] * dev[j]
    w = 1.0 / k - (mt / sxx) * dev
    out = w[0] * y[0]
    for j in range(1, k):
        out = out + w[j] * y[j]
    return out


def _offline_segment(arr: np.ndarray, valid: np.ndarray, times: np.ndarray | None) -> np.ndarray:
    """Smooth one shot: (T, N, 2) points, rows valid where ``valid``. Returns (T, N, 2).
    The shots the one-call path (``_offline_track``) leaves, and every shot with timestamps."""
    t_len, n, _ = arr.shape
    out = np.full((t_len, n, 2), np.nan)
    idx = np.flatnonzero(valid)
    if len(idx) == 0:
        return out
    pts = arr if len(idx) == t_len else arr[idx]
    m = np.empty((n, 2))
    ch_valid = np.empty((len(idx), 4 + 2 * n))
    size = _core.stab_rigid(pts, m, ch_valid)  # _rigid's reference_shape + to_channels
    first, last = idx[0], idx[-1]
    if times is None:
        frame_at = idx.astype(np.float64)
    else:  # in frames (the parabola fit is scale-free in time, its numerics are not)
        step = float(np.median(np.diff(times[idx]))) if len(idx) > 1 else 1.0
        frame_at = (times[idx] - times[idx[0]]) / step
    bad = _outliers(ch_valid, frame_at)
    if bad.any() and (~bad).sum() >= 2:
        idx, ch_valid = idx[~bad], ch_valid[~bad]
    span = np.arange(first, last + 1)
    if times is None:
        grid = span.astype(np.float64)
        at = idx.astype(np.float64)
    else:  # resample onto a uniform grid at the median frame interval, and back
        dt = float(np.median(np.diff(times[idx]))) if len(idx) > 1 else 1.0
        at = (times[idx] - times[first]) / dt
        grid = np.arange(0.0, (times[last] - times[first]) / dt + 0.5)
        if len(grid) > 4 * (last - first + 1) + 16:
            raise ValueError("timestamps: the frames are too unevenly spaced to resample (gaps over 4x the median interval)")
    if len(grid) == len(at) and times is None:  # every frame measured and kept: the grid is `at`
        ch = ch_valid
    else:
        ch = np.empty((len(grid), ch_valid.shape[1]))
        for k in range(ch.shape[1]):
            ch[:, k] = np.interp(grid, at, ch_valid[:, k])
    # before the first / after the last kept frame (a dropped glitch, one frame at most:
    # _outliers): the straight line through the nearest 4 kept frames, not a held value (a pan
    # would lag). Not 8: a line over 8 frames of a fast nod that turns at the shot's end
    # misses the next frame by several % F (its centre is 4.5 frames back)
    for side, sel in ((0, grid < at[0] - 1e-6), (1, grid > at[-1] + 1e-6)):
        if sel.any() and len(at) >= 2:
            near = slice(0, min(4, len(at))) if side == 0 else slice(max(len(at) - 4, 0), len(at))
            for g in np.flatnonzero(sel):
                ch[g] = _line_at(at[near], ch_valid[near], grid[g])
    measured = np.zeros(len(grid), bool)
    if times is None:
        measured[idx - first] = True
    else:
        measured[np.clip(np.round(at).astype(np.intp), 0, len(grid) - 1)] = True
    n_ch = ch.shape[1]
    floor, lightest = _channel_limits(n)
    r = _bank.noise_variance(ch, measured, floor)
    sm = _bank.smooth_channels(ch, r, lightest)
    if times is not None:
        back = np.empty((len(span), n_ch))
        at_span = (times[first:last + 1] - times[first]) / dt
        for k in range(n_ch):
            back[:, k] = np.interp(at_span, grid, sm[:, k])
        sm = back
    _core.stab_points(np.ascontiguousarray(sm), m, size, out[first:last + 1])  # _rigid.from_channels
    return out


def stabilize_track(
    landmarks: np.ndarray,
    *,
    mode: str = "offline",
    lag: int = 3,
    timestamps: np.ndarray | None = None,
    cuts: Sequence[int] | None = None,
    end_frames: int = END_FRAMES,
) -> np.ndarray:
    """Stabilise one face's landmark track; no tuning, any face size.

    The points of each frame are split into a rigid similarity (position,
    scale, rotation) and a per-point residual (expression). Each part is
    filtered with a motion model whose noise level and motion level are
    estimated from the track itself, in units of the face's size, so the
    same clip at any resolution gives the same result relative to the face.

    Args:
        landmarks: (T, N, 2) points in pixels (x, y), any real dtype, N >= 2
            (5-point and 68-point markups both work). A whole row of NaN is a
            missed frame.
        mode: ``"offline"`` (whole track known; zero lag), ``"fixed_lag"``
            (each output frame uses at most ``lag`` later frames) or
            ``"causal"`` (no later frames; for live use).
        lag: frames of look-ahead in ``"fixed_lag"`` mode (>= 0; ignored by
            the other modes).
        timestamps: (T,) seconds, strictly increasing, or None for a fixed
            frame rate.
        cuts: frame indices that start a new shot, or None to detect them
            (a scale-free rule on position, size, rotation and shape jumps).
            Every shot is filtered on its own. Offline with detected cuts, a
            run of at most 12 frames that starts like a cut and after which
            the face is back where it was before the run (the detector locked
            onto something else for a moment) is not a shot: its frames are
            interpolated as missed frames (``stability._cuts.excursions``).
            Fixed-lag, the same for runs that end within ``min(lag, 12)``
            frames (outputs already due before the return stay those of the
            cut).
        end_frames: offline only: the last ``end_frames`` frames of each shot
            (up to its last detection) become the straight line through the
            frame before them, in each rigid and shape channel whose smoothed
            tail departs from such a line by at most 0.35 noise standard
            deviations (median over the tail; a blend up to twice that; a
            tail that curves clearly, as in a shake, is left alone), so a
            still or panning face does not pop in the last frames, where the
            smoother has no later frames (``stability._ends``). 0 turns it
            off. Ignored by the streaming modes, which cannot know the end.

    Returns:
        (T, N, 2) float64 points in pixels. Offline, a missed frame is
        interpolated from both sides; frames before a shot's first or after
        its last detection stay NaN. Causal and fixed-lag, a missed frame
        moves on at the filtered velocity (up to 8 frames of a run, then
        holds; frames before the first detection are NaN). The causal and fixed-lag results equal those of
        :class:`LandmarkStabilizer` fed the same frames.

    Raises:
        ValueError / TypeError naming the argument for a wrong shape, dtype,
        inf, a partly NaN frame, an unknown mode, bad cuts or timestamps.

    Example:
        >>> import numpy as np
        >>> rng = np.random.default_rng(0)
        >>> face = np.array([[-30.0, -20], [30, -20], [0, 5], [-22, 30], [22, 30]])
        >>> truth = face + np.linspace(0, 60, 120)[:, None, None] + 300.0
        >>> noisy = truth + rng.normal(0, 1.5, (120, 1, 2))   # rigid detector noise
        >>> out = stabilize_track(noisy)
        >>> bool(np.abs(out - truth).mean() < 0.4 * np.abs(noisy - truth).mean())
        True
    """
    arr = _check_landmarks(landmarks)
    mode, lag = check_mode(mode, lag)
    t_len, n, _ = arr.shape
    times = _check_timestamps(timestamps, t_len)
    given = _check_cuts(cuts, t_len)
    if isinstance(end_frames, bool) or not isinstance(end_frames, (int, np.integer)):
        raise TypeError(f"end_frames: expected an int >= 0, got {type(end_frames).__name__}")
    if end_frames < 0:
        raise ValueError(f"end_frames: expected an int >= 0, got {int(end_frames)}")
    if mode != "offline":
        return _run_stream(LandmarkStabilizer(mode=mode, lag=lag), arr, times, given)
    arr = np.ascontiguousarray(arr)
    if times is None:
        out, starts = _offline_track(arr, given)
        dropped = _drop_excursions(arr, starts) if given is None else None
        if dropped is not None:  # rare: two shot starts close together
            arr = dropped
            out, starts = _offline_track(arr, None)
        for a, b in zip(starts, [*starts[1:], t_len]):
            straighten_end(out, arr, a, b, _channel_limits(n)[0], None, int(end_frames))
        return out
    valid = ~np.isnan(arr[:, 0, 0])
    if given is None:  # the scale-free cut rule (_cuts.cut_flags), in _core.stab_cuts
        flags = np.empty(t_len, np.uint8)
        _core.stab_cuts(arr, valid.view(np.uint8), _cuts.MOVE, _cuts.ZOOM, _cuts.TURN,
                        _cuts.SHAPE, flags)
        starts = np.flatnonzero(flags).tolist()
        dropped = _drop_excursions(arr, starts)
        if dropped is not None:
            arr = dropped
            valid = ~np.isnan(arr[:, 0, 0])
            _core.stab_cuts(arr, valid.view(np.uint8), _cuts.MOVE, _cuts.ZOOM, _cuts.TURN, _cuts.SHAPE, flags)
            starts = np.flatnonzero(flags).tolist()
    else:
        starts = given
    bounds = [0, *starts, t_len]
    out = np.empty((t_len, n, 2))
    for a, b in zip(bounds[:-1], bounds[1:]):
        out[a:b] = _offline_segment(arr[a:b], valid[a:b], times[a:b])
        straighten_end(out, arr, a, b, _channel_limits(n)[0], times, int(end_frames))
    return out


def _run_stream(stab: LandmarkStabilizer, arr: np.ndarray, times: np.ndarray | None,
                cuts: list[int] | None) -> np.ndarray:
    """The causal and fixed-lag modes of ``stabilize_track``: ``arr`` (checked) frame by frame."""
    t_len, n, _ = arr.shape
    out = np.full((t_len, n, 2), np.nan)
    cutset = set(cuts or ())
    results = []
    for i in range(t_len):
        row = arr[i]
        pts = None if np.isnan(row[0, 0]) else row
        res = stab._feed(pts, None if times is None else float(times[i]), i in cutset)  # arr is checked
        if i >= stab.lag:
            results.append(res)
    results.extend(stab.flush())
    for i, res in enumerate(results[:t_len]):
        if res is not None:
            out[i] = res
    return out
