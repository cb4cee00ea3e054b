"""The constant-velocity Kalman filter and fixed-lag Rauch-Tung-Striebel pass of
``LandmarkStabilizer``'s fixed-lag mode, for C independent channels at once.

A state is a dict of (C,) arrays: the filtered position ``x`` and velocity ``v``
with covariance ``p00, p01, p11``, and the prediction that led to it (``xp, vp,
pp00, pp01, pp11``). The model: white acceleration of variance ``q`` per frame,
measurement noise ``r`` (both (C,), face units).
"""

from __future__ import annotations

import numpy as np

__all__ = ["start", "step", "smooth"]


def start(y: np.ndarray, p00: np.ndarray, p11: float) -> dict:
    """State of a shot's first frame: x = y, v = 0, covariance diag(p00, p11)."""
    st = {"x": y.copy(), "v": np.zeros_like(y), "p00": p00, "p01": np.zeros_like(y), "p11": np.full(y.shape, p11)}
    st.update(xp=st["x"], vp=st["v"], pp00=st["p00"], pp01=st["p01"], pp11=st["p11"])
    return st


def step(h: dict, y: np.ndarray | None, q: np.ndarray, r: np.ndarray, dt: float) -> dict:
    """Predict ``h`` over ``dt`` frames and update with ``y`` (None: a missed frame, no update)."""
    x, v, p00, p01, p11 = h["x"], h["v"], h["p00"], h["p01"], h["p11"]
    dt2 = dt * dt
    xp = x + v * dt
    pp00 = p00 + 2.0 * dt * p01 + dt2 * p11 + q * (dt2 * dt2 / 4.0)
    pp01 = p01 + dt * p11 + q * (dt2 * dt / 2.0)
    pp11 = p11 + q * dt2
    st = {"xp": xp, "vp": v, "pp00": pp00, "pp01": pp01, "pp11": pp11}
    if y is None:
        st.update(x=xp, v=v, p00=pp00, p01=pp01, p11=pp11)
        return st
    nu = y - xp
    s = pp00 + r
    k0 = pp00 / s
    k1 = pp01 / s
    st.update(x=xp + k0 * nu, v=v + k1 * nu, p00=pp00 - k0 * pp00, p01=pp01 - k0 * pp01, p11=pp11 - k1 * pp01)
    return st


def smooth(states: list, dts: list) -> np.ndarray:
    """RTS position estimate of ``states[0]`` given the later ones (``dts[k]``: frames from
    state k to k + 1); ``states[-1]`` is the newest (its filtered estimate stands)."""
    xs, vs = states[-1]["x"], states[-1]["v"]
    for k in range(len(states) - 2, -1, -1):
        nxt, cur = states[k + 1], states[k]
        dt = dts[k]
        a, b, d = nxt["pp00"], nxt["pp01"], nxt["pp11"]
        det = a * d - b * b
        # C = P_f F^T (P_pred)^-1 with F = [[1, dt], [0, 1]]
        f00 = cur["p00"] + dt * cur["p01"]
        f01 = cur["p01"]
        f10 = cur["p01"] + dt * cur["p11"]
        f11 = cur["p11"]
        c00 = (f00 * d - f01 * b) / det
        c01 = (-f00 * b + f01 * a) / det
        c10 = (f10 * d - f11 * b) / det
        c11 = (-f10 * b + f11 * a) / det
        ex, ev = xs - nxt["xp"], vs - nxt["vp"]
        xs = cur["x"] + c00 * ex + c01 * ev
        vs = cur["v"] + c10 * ex + c11 * ev
    return xs
