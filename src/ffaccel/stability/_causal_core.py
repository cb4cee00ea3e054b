"""The compiled causal mode of ``LandmarkStabilizer`` (``_core.StabCausal``).

``_core.StabCausal`` follows ``stabilizer.py`` (causal path), ``_adaptive.py``,
``_rigid.py`` and ``_cuts.py`` operation by operation; every constant it uses
comes from those modules through ``consts()``, computed here by numpy exactly
as the Python path computes it, so that both paths share one set of numbers.
"""

from __future__ import annotations

import numpy as np

from ffaccel import _core
from ffaccel._checks import as_points

from . import _adaptive, _cuts

__all__ = ["available", "consts", "feed", "new"]


def available() -> bool:
    """Whether this build of the extension has the compiled causal mode."""
    return hasattr(_core, "StabCausal")


def consts(stab: dict[str, float]) -> dict[str, float]:
    """The constants of the causal mode, by the names ``_core.StabCausal`` reads: ``stab``
    (stabilizer.py's: mad, r_prior, r_floor, up, down, v_prior, glitch, start_v0, start_p0,
    predict_max, resid_lightest) and those of ``_adaptive`` (``follow``: the causal mode's
    follow bound) and ``_cuts``."""
    lightest = np.zeros(5)
    lightest[4] = stab["resid_lightest"]
    bank = _adaptive.AdaptiveFilter(np.zeros(5), lightest, stab["start_v0"], stab["start_p0"])  # start values per kind
    return {
        **{k: float(v) for k, v in stab.items() if k != "resid_lightest"},
        "log_min_rigid": float(bank.log_min[0]), "log_min_resid": float(bank.log_min[4]),
        "lam_rigid": float(bank.lam[0]), "lam_resid": float(bank.lam[4]),
        "alpha_rigid": float(bank.alpha[0]), "alpha_resid": float(bank.alpha[4]),
        "a_det": _adaptive._A_DET, "b_det": _adaptive._B_DET, "thresh_nu0": float(_adaptive._THRESH_NU0),
        "rise_rate": float(_adaptive.RISE_RATE), "memory": float(_adaptive.MEMORY),
        "vgate2": float(_adaptive._VGATE2), "lam_det": _adaptive._LAM_DET,
        "bias_memory": float(_adaptive.BIAS_MEMORY), "bias_var": float(_adaptive._BIAS_VAR),
        "bias_gate": float(_adaptive.BIAS_GATE), "step": _adaptive._STEP, "boost_decay": float(_adaptive.BOOST_DECAY),
        "kappa": float(_adaptive.KAPPA), "log_max": _adaptive._LOG_MAX,
        "alpha_min": _adaptive._ALPHA_MIN, "beta_min": _adaptive._BETA_MIN,
        "persist": float(bool(_adaptive.PERSIST)), "vgate": float(bool(_adaptive.VGATE)),
        "move": float(_cuts.MOVE), "log_zoom": float(_cuts._LOG_ZOOM), "turn": float(_cuts.TURN),
        "shape": float(_cuts.SHAPE), "follow": float(_adaptive.FOLLOW),
    }


def new(stab: dict[str, float]):
    """A fresh ``_core.StabCausal`` (the state of one face's track), with the constants as they are
    now (read at every reset, as the Python path reads its module constants)."""
    return _core.StabCausal(consts(stab))


def feed(stab, core, points: np.ndarray, t: float | None, cut: bool) -> np.ndarray | None:
    """``LandmarkStabilizer.update`` of a float64 (N, 2) ndarray on ``stab``'s compiled state
    ``core``, once the checks that ``stab._feed`` would fail are known to pass: what ``_feed``
    does, with the values check of ``as_points`` (finite, within ``COORD_MAX``) made by
    ``core.feed`` (which changes nothing when it fails; ``stab`` is then restored and the
    error worded by ``as_points``)."""
    saved = stab._use_t, stab._n, stab._last_t, stab._unit
    dt = 1.0
    if t is not None:
        if stab._last_t is not None:
            if stab._unit is None:
                stab._unit = t - stab._last_t
            dt = (t - stab._last_t) / stab._unit
        stab._last_t = t
    stab._use_t, stab._n = t is not None, len(points)
    stab._frame += 1
    try:
        out = core.feed(points, dt, cut)
    except ValueError:  # a frame without a similarity fit (nothing changed in core): as if not given
        stab._use_t, stab._n, stab._last_t, stab._unit = saved
        stab._frame -= 1
        raise
    if out is False:
        stab._use_t, stab._n, stab._last_t, stab._unit = saved
        stab._frame -= 1
        as_points(points, "points", n=saved[1])  # raises
        raise ValueError("points: expected finite values, got NaN or infinity")
    return out
