"""``LandmarkStabilizer``: the streaming (causal and fixed-lag) form of
``stabilize_track``.

Per channel (the rigid and residual channels of ``_rigid``, in face units):

- the measurement-noise variance ``r`` is estimated online: a running median
  of |second difference| of the measurements (0.6745 * sqrt(6) * s for white
  noise of std s), tracked multiplicatively, so a burst of real motion moves it
  little; causal, in motion, at most ``D4_GAIN`` times the one of the fourth
  differences, which smooth motion leaves almost untouched (``_noise_level``);
- causal: the adaptive alpha-beta filter of ``_adaptive`` (its tracking index,
  i.e. how much motion to expect, estimated every frame; Kalman start-up
  gains; velocity takeover); the residual
  (expression) channels never go below index ``LAMBDA[RESID_LIGHTEST_CAUSAL]``
  (fixed-lag: ``LAMBDA[RESID_LIGHTEST]``), so they are filtered more gently;
- fixed-lag: two Kalman filters of the same constant-velocity model with a
  Rauch-Tung-Striebel pass over the last ``lag`` frames (``_kalman``): ``a``
  with the adaptive filter's process noise of each frame (every channel), ``b``
  at the fixed light level ``q / r = FL_LIGHT`` (the rigid channels). Where
  their estimates differ by more than ``FL_GATE`` noise stds (RMS over recent
  frames: a running mean of the squared difference, memory ``FL_MEMORY``, so
  one noisy frame neither opens nor closes the gate) the light one blends in
  (a two-level form of the offline mode's ICI rule: the smooth level is kept
  while it agrees with the light one), and its weight then falls by at most
  ``FL_HOLD`` per frame. The output is ``lag`` frames late.

A cut (the scale-free rule of ``_cuts``, or ``update(..., cut=True)``) restarts
everything. In the fixed-lag mode a detected cut is taken back when, within the look-ahead
(``min(lag, EXCURSION)`` frames), the face returns to where it was before it (a detector
excursion, ``_excursion_watch``): the frames between are then treated as missed. The first
detection of a shot is dropped when the second one is more than ``GLITCH`` noise stds
off it (a detector that has just found the face is often off on that frame; the shot
restarts on the second one, and the fixed-lag mode gives the dropped frame the second
one's estimate). A missed frame (``None``) predicts without an update: its output moves
on at the filtered velocity for up to ``PREDICT_MAX`` frames of a run, then holds
(fixed-lag: it is interpolated when a detection follows within ``lag`` frames).
"""

from __future__ import annotations

import copy
import math
from collections import deque

import numpy as np

from . import _adaptive, _causal_core, _kalman, _noise_level
from ffaccel._checks import as_points, as_timestamp
from ._cuts import frame_features, is_cut
from ._excursion_watch import ExcursionWatch, watched_step
from ._modes import check_mode
from ._rigid import frame_channels, frame_points

__all__ = ["LandmarkStabilizer"]

_F64 = np.dtype(np.float64)
V_PRIOR = 1e-3**2  # fixed-lag Kalman filters: velocity variance at the start of a shot, (face units / frame)^2
FL_P0 = 0.25  # ... and position variance there, in units of the noise variance
START_V0 = 1e-2  # causal start-up gains (_adaptive): velocity prior variance, in noise variances per frame^2
START_P0 = 0.25  # ... and position prior variance: the first frame counts as 4
PREDICT_MAX = 8  # missed frames in a run output at the filtered velocity; later ones hold the last output
FL_LIGHT = 0.7  # q / r of the fixed-lag mode's light level (rigid channels)
FL_GATE = (0.7, 1.5)  # RMS |light - smooth| / noise std: from the first the light level blends in, fully at the second
FL_MEMORY = 0.9  # ... that RMS: a running mean of (light - smooth)^2 / r with this memory per frame
FL_HOLD = 0.9  # the light level's weight falls by at most this factor per frame
GLITCH = 6.0  # noise stds off the next detection at which a shot's first detection is dropped
RESID_LIGHTEST = 4  # index into _adaptive.LAMBDA: the smoothest the residual (expression) channels get
# ... in the causal mode: half a decade smoother (L = 3e-3). On the real MTCNN clips the still-clip jitter
# goes from 1.09x to 0.96x the tuned One Euro's (median over scales), nod and turn RMSE unchanged; a mouth
# opening keeps 94 % of its motion 7 frames after it starts (level 4: 97 %), 101 % later
# (docs/results/stability_history.md, "Causal and tail spikes, branch stab-causal2")
RESID_LIGHTEST_CAUSAL = 3


class LandmarkStabilizer:
    """Streaming landmark stabiliser for one face (causal or fixed-lag).

    Same method and results as ``stabilize_track(mode="causal"|"fixed_lag")``:
    feeding a track frame by frame and then calling ``flush`` gives exactly
    the rows ``stabilize_track`` returns for it. Scale-free and self-tuning:
    the noise level and the motion level are estimated from the frames seen.

    Args:
        mode: ``"causal"`` (output for the frame just given; no latency; its
            centre stays within 3.5 noise standard deviations of the frame's
            detection, so a fast nod does not carry the face past the head) or
            ``"fixed_lag"`` (output for the frame ``lag`` calls ago, smoothed
            with the frames after it).
        lag: look-ahead frames of ``"fixed_lag"`` (>= 0); ignored when causal.

    Shapes: ``points`` is (N, 2) pixels, any real dtype, N >= 2 and fixed
    until ``reset``; outputs are (N, 2) float64 pixels.

    Errors: an ``update`` that raises (bad points or timestamp, every point
    at one place, a frame with no similarity to the shot's reference shape)
    changes nothing: the stabiliser goes on as if that frame had not been
    given. A stabiliser pickles (the compiled causal state included) and
    unpickles to go on exactly as the original would (``copy.deepcopy`` too).

    Cost: the causal mode runs in the compiled extension (``_core.StabCausal``,
    one call per frame, about 2.5 us per face per frame at 5 points) when the
    build has it, with the results of the Python code here to about 1e-15 face
    widths; the fixed-lag mode runs in Python (about 0.25 ms per frame).

    Example:
        >>> import numpy as np
        >>> face = np.array([[-30.0, -20], [30, -20], [0, 5], [-22, 30], [22, 30]]) + 200.0
        >>> st = LandmarkStabilizer(mode="fixed_lag", lag=2)
        >>> outs = [st.update(face + 0.5 * (i % 2)) for i in range(6)]
        >>> outs[0] is None, outs[2].shape, len(st.flush())
        (True, (5, 2), 2)
    """

    def __init__(self, mode: str = "causal", lag: int = 3) -> None:
        if mode == "offline":
            raise ValueError("mode: expected 'causal' or 'fixed_lag' (offline needs the whole track: use stabilize_track), got 'offline'")
        self.mode, lag = check_mode(mode, lag)
        self.lag = lag if self.mode == "fixed_lag" else 0
        self.reset()

    accepts_missed = True  # update(None) is a missed frame (FaceTracker tells its tracks' filters)

    # ------------------------------------------------------------------ state
    _compiled = True  # causal mode: use _core.StabCausal when the extension has it (False: the Python reference)

    def reset(self) -> None:
        """Forget everything (also call it at a known scene cut)."""
        self._core = None
        if self.mode == "causal" and self._compiled and _causal_core.available():
            nl = _noise_level
            self._core = _causal_core.new({  # the same method, one extension call per frame
                "mad": nl.MAD, "d4_gain": nl.D4_GAIN, "r_prior": nl.R_PRIOR, "r_floor": nl.R_FLOOR, "up": nl.UP,
                "down": nl.DOWN, "v_prior": V_PRIOR,
                "glitch": GLITCH, "start_v0": START_V0, "start_p0": START_P0, "predict_max": PREDICT_MAX,
                "resid_lightest": RESID_LIGHTEST_CAUSAL})
        self._n: int | None = None
        self._frame = -1  # index of the last frame given
        self._last_t: float | None = None
        self._unit: float | None = None  # seconds per frame (first interval seen)
        self._use_t: bool | None = None
        self._pending: deque = deque()  # (frame, output or None) finalised, waiting to be returned
        self._r_carry = None  # noise variance (face units^2) of the last shot, for the start-of-shot glitch test
        self._watch: ExcursionWatch | None = None  # fixed-lag: a detected cut that may still be an excursion
        self._start_segment()

    def _start_segment(self) -> None:
        self._m = None  # reference shape (complex, RMS radius 1)
        self._size = 1.0
        self._hist: deque = deque()  # per frame of this shot: dict of filter quantities
        self._prev_feat = None
        self._before_feat = None
        self._gap = 1
        self._gap_before = 1
        _noise_level.reset(self)  # the noise estimate and the last measured channel rows it reads
        self._held = None
        self._w_prev = np.zeros(4)
        self._fl_d2 = None  # fixed-lag: running mean of (light - smooth)^2 / r (rigid channels)
        self._n_meas = 0  # measured frames of this shot (the glitch test runs at the second, once)

    def __setstate__(self, state: dict) -> None:
        # a stabiliser pickled before the fourth-difference noise level: its state without them
        self.__dict__.update(_last_y3=None, _last_y4=None, _mad4=None, _mad4_n=0, _mad4_seed=[])
        self.__dict__.update(state)

    @property
    def delay(self) -> int:
        """Frames between giving a frame and getting its output (``lag`` or 0)."""
        return self.lag

    # ------------------------------------------------------------------ kalman
    def _step(self, h: dict | None, y: np.ndarray | None, dt: float, consecutive: bool) -> dict:
        """One frame of the shot: the adaptive filter (causal output; its level), and for the
        fixed-lag mode two Kalman filters: ``a`` at that level (every channel), ``b`` at the
        fixed light level ``FL_LIGHT`` (rigid channels)."""
        if h is None:  # first frame of the shot
            n_ch = len(y)
            r = _noise_level.noise(self, y, False)
            self._r_last = r
            lightest = np.zeros(n_ch)
            lightest[4:] = RESID_LIGHTEST if self.lag else RESID_LIGHTEST_CAUSAL
            follow = 0.0 if self.lag else _adaptive.FOLLOW  # the follow bound is the causal mode's
            self._bank = _adaptive.AdaptiveFilter(y, lightest, START_V0, START_P0, follow)
            rec = {"x": y.copy(), "measured": True, "dt": dt}
            if self.lag:
                rec.update(a=_kalman.start(y, r * FL_P0, V_PRIOR), b=_kalman.start(y[:4], r[:4] * FL_P0, V_PRIOR), r=r)
            return rec
        bank = self._bank
        if y is None:
            bank.predict(dt)
            r = self._r_last
            out = bank.x
        else:
            r = _noise_level.noise(self, y, consecutive)
            self._r_last = r
            if self._mad is not None:
                self._r_carry = r
            out = bank.update(y, r, dt)
        rec = {"x": out, "measured": y is not None, "dt": dt}
        if y is None:
            rec["run"] = h.get("run", 0) + 1
        if self.lag:
            rec["r"] = r
            rec["a"] = _kalman.step(h["a"], y, bank.q_over_r() * r, r, dt)
            rec["b"] = _kalman.step(h["b"], None if y is None else y[:4], FL_LIGHT * r[:4], r[:4], dt)
        return rec

    def _smoothed(self, back: int) -> np.ndarray:
        """Estimate (channel positions) of the frame ``back`` records before the newest."""
        hist = self._hist
        i = len(hist) - 1
        if not self.lag:
            return hist[i]["x"]
        recs = [hist[k] for k in range(i - back, i + 1)]
        dts = [rec["dt"] for rec in recs[1:]]
        xa = _kalman.smooth([rec["a"] for rec in recs], dts)
        xb = _kalman.smooth([rec["b"] for rec in recs], dts)
        # the light level where the smooth one departs from it by more than noise (two-level ICI),
        # judged on the RMS departure over recent frames (a running mean of its square)
        d = xb - xa[:4]
        if back < self.lag:  # the last frames of a shot: too few later frames to tell, keep the weight
            w = np.zeros(4)
        else:
            d2 = d * d / recs[-1]["r"][:4]
            if self._fl_d2 is not None:
                d2 = FL_MEMORY * self._fl_d2 + (1.0 - FL_MEMORY) * d2
            self._fl_d2 = d2
            w = np.clip((np.sqrt(d2) - FL_GATE[0]) / (FL_GATE[1] - FL_GATE[0]), 0.0, 1.0)
        w = np.maximum(w, FL_HOLD * self._w_prev)
        self._w_prev = w
        out = xa.copy()
        out[:4] += w * d
        return out

    @staticmethod
    def _points(ch: np.ndarray, rec: dict) -> np.ndarray:
        # Channels hold the centroid divided by the reference size: a frame measured before a
        # restart (a first-frame glitch) must be decoded with its own reference, never the
        # newest one, or its position is scaled by the ratio of the two sizes.
        m, size = rec["ref"]
        return frame_points(ch, m, size)

    # ------------------------------------------------------------------ api
    def _take(self, rec: dict, back: int) -> np.ndarray | None:
        """Output of ``rec`` (``back`` records before the newest); marks it returned."""
        rec["returned"] = True
        if rec.get("before_face"):
            return None
        hist = self._hist
        if rec.get("glitch"):
            # the shot restarted on a later frame: the estimate of the first later frame that is
            # not itself a glitch (several first detections in a row can be off)
            k = back - 1
            while k > 0 and hist[len(hist) - 1 - k].get("glitch"):
                k -= 1
            out = self._points(self._smoothed(k), hist[len(hist) - 1 - k])
        elif (not rec["measured"] and rec["run"] > PREDICT_MAX
              and not any(hist[len(hist) - 1 - k]["measured"] for k in range(back))):
            out = None if self._held is None else self._held.copy()  # a long miss: held
        else:  # (a short miss with no detection after it yet: predicted at the filtered velocity)
            out = self._points(self._smoothed(back), rec)
        if out is not None:
            self._held = out
        return out

    def _finalise_segment(self) -> None:
        """At a cut: turn this shot's frames not yet returned into outputs (no later frames)."""
        hist = self._hist
        for i, rec in enumerate(list(hist)):
            if not rec.get("returned"):
                self._pending.append(self._take(rec, len(hist) - 1 - i))

    def update(self, points: np.ndarray | None, timestamp: float | None = None, *, cut: bool = False) -> np.ndarray | None:
        """Give one frame; get the output for the frame ``delay`` calls ago.

        Args:
            points: (N, 2) landmarks in pixels, or None for a missed frame.
            timestamp: seconds (strictly increasing) for every frame or for none.
            cut: True when this frame is known to start a new shot.

        Returns:
            (N, 2) float64 pixels for frame ``t - delay``, or None while there
            is none yet (the first ``delay`` calls, frames before the first
            detection).
        """
        core = self._core
        if (core is not None and type(points) is np.ndarray and points.dtype is _F64 and points.ndim == 2
                and points.shape[1] == 2 and type(cut) is bool
                and (self._n is None and len(points) >= 2 or len(points) == self._n)):
            # the common cases, with the same checks (the finite-values one in _core); the rest below
            if timestamp is None:
                if self._use_t is not True:
                    return _causal_core.feed(self, core, points, None, cut)
            elif type(timestamp) in (float, np.float64) and math.isfinite(timestamp) and self._use_t is not False \
                    and (self._last_t is None or timestamp > self._last_t):
                return _causal_core.feed(self, core, points, float(timestamp), cut)
        if points is None:
            z = None
        else:
            z = as_points(points, "points", n=self._n)
            if len(z) < 2:
                raise ValueError(f"points: expected at least 2 points, got shape {z.shape}")
        t = as_timestamp(timestamp)
        if not isinstance(cut, (bool, np.bool_)):
            raise TypeError(f"cut: expected a bool, got {type(cut).__name__}")
        return self._feed(z, t, bool(cut))

    def _feed(self, z: np.ndarray | None, t: float | None, cut: bool) -> np.ndarray | None:
        """``update`` after its argument checks (``z`` float64 (N, 2) or None)."""
        saved = self._use_t, self._n, self._last_t, self._unit
        if self._use_t is None:
            self._use_t = t is not None
        elif self._use_t != (t is not None):
            raise ValueError("timestamp: expected one for every frame or for none (call reset())")
        dt = 1.0
        if t is not None:
            if self._last_t is not None:
                if t <= self._last_t:
                    raise ValueError(f"timestamp: expected > {self._last_t}, got {t}")
                if self._unit is None:
                    self._unit = t - self._last_t
                dt = (t - self._last_t) / self._unit
            self._last_t = t
        if z is not None and self._n is None:
            self._n = len(z)
        self._frame += 1
        try:
            if self._core is not None:
                return self._core.miss(dt, cut) if z is None else self._core.feed(z, dt, cut)
            if self.lag:
                return watched_step(self, z, dt, cut)
            self._advance(z, dt, cut)  # (raises before it changes anything)
        except ValueError:  # a frame without a similarity fit: as if it had not been given
            self._use_t, self._n, self._last_t, self._unit = saved
            self._frame -= 1
            raise
        return self._emit()

    def _detects_cut(self, feat: tuple | None) -> bool:
        """Does the cut rule fire on a frame of features ``feat`` (None: a missed frame)?"""
        return feat is not None and self._m is not None and is_cut(
            *feat, self._prev_feat, self._before_feat, self._gap, self._gap_before)

    def _advance(self, z: np.ndarray | None, dt: float, cut: bool, feat: tuple | None = None,
                 detected: bool | None = None) -> None:
        """One frame (``feat``: its features, and ``detected``: whether the cut rule fires on
        it, if known). Raises ValueError (a frame without a similarity fit) before it changes
        anything."""
        zc = None if z is None else z[:, 0] + 1j * z[:, 1]
        if feat is None and zc is not None:
            feat = frame_features(zc)
        if detected is None:
            detected = self._detects_cut(feat)
        restart = self._m is not None and (cut or detected)
        fresh = zc is not None and (self._m is None or restart)  # this frame becomes the reference shape
        y = None
        if fresh:
            if not feat[1] > 0:
                raise ValueError("points: every point is at the same place (no face size)")
            y = frame_channels(zc, feat[2], float(feat[1]), 0.0)
        elif zc is not None:
            y = frame_channels(zc, self._m, self._size, self._theta)
        if restart:
            self._finalise_segment()
            self._start_segment()
        if fresh:
            self._m, self._size, self._theta = feat[2], float(feat[1]), 0.0
        last = self._hist[-1] if self._hist and not self._hist[-1].get("before_face") else None
        if zc is None:
            if last is None:  # no face yet in this shot
                self._hist.append({"before_face": True, "measured": False})
            else:
                self._gap += 1
                rec = self._step(last, None, dt, False)
                rec["ref"] = (self._m, self._size)
                self._hist.append(rec)
                self._last_y4 = self._last_y3 = self._last_y2 = self._last_y = None
            self._trim()
            return
        consecutive = self._gap == 1 and last is not None
        if consecutive and self._n_meas == 1 and self._first_frame_glitch(last, y):
            # the shot's first detection was off (a detector that has just locked on): restart on this one
            y = frame_channels(zc, feat[2], float(feat[1]), 0.0)  # (raises before the changes below)
            last["glitch"] = True
            last = None
            consecutive = False
            self._m, self._size, self._theta = feat[2], float(feat[1]), 0.0
            # once a shot: chained, it dropped frame after frame of a head whose step exceeds GLITCH
            # stds of a precise detector (docs/stability.md, "A second detector")
            self._n_meas = 1
            self._prev_feat = None
        self._theta = float(y[3])
        self._n_meas += 1
        rec = self._step(last, y, dt, consecutive)
        rec["ref"] = (self._m, self._size)  # the channels' reference: decode with it, not a later one
        self._last_y4, self._last_y3, self._last_y2, self._last_y = (
            (self._last_y3, self._last_y2, self._last_y, y) if consecutive else (None, None, None, y))
        if last is not None:
            self._before_feat, self._gap_before = self._prev_feat, self._gap
        else:
            self._before_feat = None
        self._prev_feat, self._gap = feat, 1
        self._hist.append(rec)
        self._trim()

    def _first_frame_glitch(self, first: dict, y: np.ndarray) -> bool:
        """Is the shot's first detection off the second one by more than ``GLITCH`` noise stds
        (rigid channels; the noise of the last shot, or the prior)?"""
        r = self._r_carry if self._r_carry is not None else np.full(len(y), _noise_level.R_PRIOR)
        d = y[:4] - first["x"][:4]  # (the shot's first frame: x is y)
        return bool(np.any(d * d > GLITCH * GLITCH * (2.0 * r[:4] + V_PRIOR)))

    def _trim(self) -> None:
        while len(self._hist) > self.lag + 1 and self._hist[0].get("returned"):
            self._hist.popleft()

    def _emit(self) -> np.ndarray | None:
        if self._pending:
            return self._pending.popleft()
        hist = self._hist
        if len(hist) <= self.lag:
            return None
        rec = hist[len(hist) - 1 - self.lag]
        if rec.get("returned"):
            return None
        out = self._take(rec, self.lag)
        self._trim()
        return out

    def flush(self) -> list[np.ndarray | None]:
        """End of the clip: outputs of the frames given but not yet returned, in order.

        Fixed-lag only has any (up to ``lag``); the stabiliser is then ready
        for a new clip (as after ``reset``).
        """
        self._finalise_segment()
        out = list(self._pending)
        self.reset()
        return out

    def spawn(self) -> LandmarkStabilizer:
        """A new stabiliser for another face of the same video, or this face after its track
        was lost: same mode and lag, and the detector's noise level this one has learned.

        Its first frame starts a shot as a cut does here, so the start-of-shot glitch test
        (the first detection dropped when the second is more than ``GLITCH`` noise stds off
        it) has a noise level; a new ``LandmarkStabilizer``'s prior, 2 % of the face width,
        lets almost any first detection through, and MTCNN's first detection of a face is
        often 5-9 % off. A tracker that gives each face its own stabiliser should make each
        new one with this (``KpsStabilizer`` of the insightface adapter does). This one is
        not changed.

        Returns:
            a ``LandmarkStabilizer`` for the same number of points N; timestamps, if
            given, start again (any first value).

        Example:
            >>> import numpy as np
            >>> face = np.array([[-30.0, -20], [30, -20], [0, 5], [-22, 30], [22, 30]]) + 200.0
            >>> rng = np.random.default_rng(0)
            >>> st = LandmarkStabilizer()
            >>> for _ in range(30):
            ...     _ = st.update(face + rng.normal(0.0, 0.3, face.shape))
            >>> first_off = face + 600.0 + 5.0  # a new face whose first detection is 5 px off
            >>> new, fresh = st.spawn(), LandmarkStabilizer()
            >>> for s in (new, fresh):
            ...     _ = s.update(first_off)
            >>> # the second frame: the spawned one drops the first detection, the fresh one keeps it
            >>> float(np.abs(new.update(face + 600.0) - face - 600.0).max()) < 0.01
            True
            >>> float(np.abs(fresh.update(face + 600.0) - face - 600.0).max()) > 1.0
            True
        """
        new = LandmarkStabilizer(self.mode, self.lag)
        if self._core is None and new._core is not None:  # this one runs the Python reference: so does it
            new._compiled = False
            new.reset()
        new._n, new._unit = self._n, self._unit
        if self._core is not None:
            # the compiled state keeps its noise level across a cut: copy it and cut
            new._core = copy.deepcopy(self._core)
            new._core.miss(1.0, True)
        elif self._r_carry is not None:
            new._r_carry = self._r_carry.copy()
        return new
