"""Causal adaptive alpha-beta filter: the motion level is estimated, not tuned.

For every channel (face units) the output is the steady-state Kalman filter of
the constant-velocity model with white acceleration of variance ``q`` and
measurement noise ``r``, i.e. an alpha-beta filter whose gains follow from the
tracking index ``L = sqrt(q / r)`` in closed form (Kalata 1984):

    alpha = -(L^2 + 8L - (L + 4) sqrt(L^2 + 8L)) / 8
    beta  =  (L^2 + 4L - L sqrt(L^2 + 8L)) / 4

``q`` is estimated online. A light "detector" alpha-beta filter (index
``LAMBDA[DETECT]``) runs alongside; on white noise alone its squared
innovation averages ``r / (1 - alpha_det)``. The part of it beyond ``THRESH``
times that is taken as acceleration and averaged (rising with rate
``RISE_RATE``, decaying with memory ``MEMORY`` per frame): ``a2``. The output
filter then uses ``L = sqrt(KAPPA * a2 / r)``, clamped to ``LAMBDA``'s range.
Still: ``a2`` is 0 and the filter is the smoothest; a nod: ``a2`` jumps and so
do the gains. A slow change of velocity (a pan starting, a zoom) stays under
the detector's threshold but biases the output filter's own innovations: while
their running mean (memory ``BIAS_MEMORY``) is beyond ``BIAS_GATE`` of its
noise std, the index doubles every frame (and falls back by ``BOOST_DECAY``
of that per frame afterwards). Motion must show in two frames running before
the detector opens the filter, so a one-frame detector glitch does not.

Two additions keep a smooth level from being wrong for long:

- start-up: the gains never fall below those of a Kalman filter of the same
  model without process noise whose prior trusts the first frame like
  ``1 / p0`` frames and expects a velocity of variance ``v0`` (both in units
  of the noise variance): a tight velocity prior starts like a running mean
  (gain ~1/k) instead of a least-squares line (gain ~4/k), four times calmer;
- velocity takeover: where the output is smoother than the detector and their
  velocities differ by more than ``VGATE`` noise stds of the detector's
  velocity (two frames running), the output takes the detector's. A smooth level otherwise keeps
  the velocity it had when a motion stopped, and drifts on (a turn
  overshot by degrees before this);
- follow bound (causal mode only, ``follow``): after each update the
  centroid channels' position is kept within ``FOLLOW`` noise stds
  (sqrt(FOLLOW^2 (r0 + r1))) of the measurement, in the state, so the filter
  runs on from there. When a fast nod turned back, the velocity the filter
  kept carried the face past the head for two or three frames: the worst
  frame of the real fast nods was up to 2x the raw detections' (8.6 against
  4.3 % of the face width); with the bound it is 4.0-5.0 % F (the study and
  its cost: docs/results/causal_bound.md);

``r`` is estimated by the caller (running median of second differences). The
constants were chosen on real MTCNN tracks (issue 13's benchmark, 128 clips:
a risk of fitting that clip set; docs/stability.md says which goals each
choice moved).
"""

from __future__ import annotations

import numpy as np

__all__ = ["LAMBDA", "AdaptiveFilter", "gains"]

LAMBDA = 10.0 ** np.arange(-4.0, 1.01, 0.5)  # tracking indices, smoothest first
DETECT = 6  # the detector's tracking index: LAMBDA[6] = 0.1
KAPPA = 0.003
THRESH = 14.0
MEMORY = 0.7
RISE_RATE = 0.5
BIAS_MEMORY = 0.9
BIAS_GATE = 6.0
VGATE = 4.0  # noise stds of the detector's velocity beyond which the output takes it over (0: off)
BOOST_DECAY = 0.5  # the boost falls back by this fraction of a doubling per frame once the bias is gone
_STEP = float(np.log(2.0))  # the index doubles per frame while the innovations stay biased
PERSIST = True  # motion must show in two frames running (a one-frame glitch does not open the filter)
FOLLOW = 3.5  # causal output: the centroid at most this many noise stds from the detection (0: no bound)


def gains(lam: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Steady-state (alpha, beta) of the constant-velocity model for tracking index ``lam``."""
    root = np.sqrt(lam * lam + 8.0 * lam)
    alpha = -(lam * lam + 8.0 * lam - (lam + 4.0) * root) / 8.0
    beta = (lam * lam + 4.0 * lam - lam * root) / 4.0
    return alpha, beta


_A_DET, _B_DET = (float(v) for v in gains(np.array(LAMBDA[DETECT])))
_NU0 = 1.0 / (1.0 - _A_DET)  # E[nu^2] / r of the detector on white noise
_BIAS_VAR = (1.0 - BIAS_MEMORY) / (1.0 + BIAS_MEMORY)  # variance of the running mean of white innovations
def _velocity_variance(a: float, b: float) -> float:
    """Variance of the steady-state (a, b) alpha-beta filter's velocity on unit white noise."""
    k = np.array([[a], [b]])
    m = (np.eye(2) - k @ np.array([[1.0, 0.0]])) @ np.array([[1.0, 1.0], [0.0, 1.0]])
    s = np.zeros((2, 2))
    for _ in range(3000):
        s = m @ s @ m.T + k @ k.T
    return float(s[1, 1])


_VD_VAR = _velocity_variance(_A_DET, _B_DET)
_LAM_DET = float(LAMBDA[DETECT])
_VGATE2 = VGATE * VGATE * _VD_VAR  # takeover: bound on (vd - v)^2 / r
_LOG_MIN, _LOG_MAX = float(np.log(LAMBDA[0])), float(np.log(LAMBDA[-1]))
_THRESH_NU0 = THRESH * _NU0
# the smallest gains any index can give (LAMBDA[0], less a margin): below them the start-up floors do nothing
_ALPHA_MIN, _BETA_MIN = (0.5 * float(v) for v in gains(np.array(LAMBDA[0])))


class AdaptiveFilter:
    """State for C channels: output x, v; detector xd, vd; a2; tracking index (C,)."""

    def __init__(self, y: np.ndarray, lightest: np.ndarray, v0: float, p0: float = 1.0, follow: float = 0.0) -> None:
        self.follow2 = float(follow) * float(follow)  # the bound on the centroid's distance (``update``), squared
        self.x = y.copy()
        self.v = np.zeros_like(y)
        self.xd = y.copy()
        self.vd = np.zeros_like(y)
        self.a2 = np.zeros_like(y)
        self.excess_prev = np.zeros_like(y)
        self.bias = np.zeros_like(y)
        self.boost = np.zeros_like(y)
        self.vfire_prev = np.zeros(y.shape, bool)
        self.log_min = _LOG_MIN + (_LOG_MAX - _LOG_MIN) * lightest / (len(LAMBDA) - 1)
        self.lam = np.exp(self.log_min)
        self.alpha = gains(self.lam)[0]
        self.count = 1
        # start-up gains: the Kalman filter of the constant-velocity model without process noise,
        # unit measurement noise, position prior variance p0 and velocity prior variance v0
        self._s = (float(p0), 0.0, float(v0))

    def predict(self, dt: float) -> None:
        s00, s01, s11 = self._s
        self._s = (s00 + 2.0 * dt * s01 + dt * dt * s11, s01 + dt * s11, s11)
        self.x = self.x + self.v * dt
        self.xd = self.xd + self.vd * dt

    def update(self, y: np.ndarray, r: np.ndarray, dt: float) -> np.ndarray:
        """Predict over ``dt`` frames, update with ``y``; returns the output (C,) (do not modify it).

        Written for few numpy calls per frame (the causal budget): the same arithmetic as the
        model above, with the ``* dt`` / ``/ dt`` skipped when ``dt`` is 1 (exact) and the
        start-up gain floors skipped once they are below every reachable gain (exact). ``dt``
        must not be 0.
        """
        self.count += 1
        k = self.count
        unit = dt == 1.0
        pd = self.xd + self.vd if unit else self.xd + self.vd * dt
        nu_d = y - pd
        self.xd = pd + _A_DET * nu_d
        self.vd = self.vd + (_B_DET if unit else _B_DET / dt) * nu_d
        excess_now = nu_d * nu_d
        excess_now -= _THRESH_NU0 * r
        np.maximum(excess_now, 0.0, out=excess_now)
        excess = np.minimum(excess_now, self.excess_prev) if PERSIST else excess_now
        self.excess_prev = excess_now
        if k > 3:
            rate = np.where(excess > self.a2, RISE_RATE, 1.0 - MEMORY)
            self.a2 = self.a2 + rate * (excess - self.a2)
        if VGATE:  # velocity takeover (module doc)
            dv = self.vd - self.v
            fire_now = (dv * dv > _VGATE2 * r) & (self.lam < _LAM_DET)
            fire = fire_now & self.vfire_prev
            self.vfire_prev = fire_now
            if fire.any():
                self.v = np.where(fire, self.vd, self.v)
        p = self.x + self.v if unit else self.x + self.v * dt
        nu = y - p
        # bias of the output filter's own innovations: a slow change of velocity (a pan
        # starting, a zoom) that the detector's threshold misses
        self.bias = BIAS_MEMORY * self.bias + (1.0 - BIAS_MEMORY) * nu
        sd = np.sqrt(r / (1.0 - self.alpha) * _BIAS_VAR)
        off = np.abs(self.bias) > BIAS_GATE * sd
        self.boost = np.where(off, self.boost + _STEP, np.maximum(self.boost - BOOST_DECAY * _STEP, 0.0))
        log_lam = np.maximum(0.5 * np.log(np.maximum(KAPPA * self.a2 / r, 1e-300)), self.log_min + self.boost)
        np.minimum(log_lam, _LOG_MAX, out=log_lam)  # >= log_min already (boost >= 0)
        lam = self.lam = np.exp(log_lam)
        # gains(lam), sharing the common terms
        l2 = lam * lam
        s8 = l2 + 8.0 * lam
        root = np.sqrt(s8)
        alpha = self.alpha = (s8 - (lam + 4.0) * root) / -8.0
        beta = (l2 + 4.0 * lam - lam * root) / 4.0
        a_floor, b_floor = self._startup(dt)
        if a_floor >= _ALPHA_MIN:
            alpha = np.maximum(alpha, a_floor)
        if b_floor >= _BETA_MIN:
            beta = np.maximum(beta, b_floor)
        self.x = p + alpha * nu
        self.v = self.v + (beta if unit else beta / dt) * nu
        if self.follow2:
            # follow bound: the centroid (channels 0, 1) kept within sqrt(follow2 (r0 + r1)) of
            # the measurement, in the state itself, so the filter runs on from there. Why: when
            # a fast nod turns back, the velocity the filter kept carried the face past the head
            # for two or three frames, up to 2x the raw detections' worst error
            # (docs/results/causal_bound.md).
            d0, d1 = self.x[0] - y[0], self.x[1] - y[1]
            dist2 = d0 * d0 + d1 * d1
            lim2 = self.follow2 * (r[0] + r[1])
            if dist2 > lim2:
                shrink = np.sqrt(lim2 / dist2)
                self.x[0] = y[0] + d0 * shrink
                self.x[1] = y[1] + d1 * shrink
        return self.x

    def _startup(self, dt: float) -> tuple[float, float]:
        """One step of the start-up Kalman filter (scalars): its position and velocity gains."""
        s00, s01, s11 = self._s
        s00 = s00 + 2.0 * dt * s01 + dt * dt * s11
        s01 = s01 + dt * s11
        inv = 1.0 / (s00 + 1.0)
        k0, k1 = s00 * inv, s01 * inv
        self._s = (s00 - k0 * s00, s01 - k0 * s01, s11 - k1 * s01)
        return k0, k1 * dt

    def q_over_r(self) -> np.ndarray:
        """(C,) process over measurement noise in use (for a Kalman filter with the same model)."""
        return self.lam * self.lam
