"""The fixed-lag mode's excursion watch: :func:`_cuts.excursions`' test within the look-ahead.

A detected cut at frame ``a`` starts a watch that keeps the stabiliser's state from before
``a``. A frame given within ``min(lag, EXCURSION)`` frames of ``a`` that is itself a
detected cut, but no cut against the last measured frame ``p`` before ``a`` (the face back
where it was), takes the cut back: the state is restored and the frames since ``a`` given
again as missed, then that frame. Their outputs were already returned (one per call) and
are not returned again; every later output is that of the same track with those frames
missed. A cut the caller gives, or the end of the look-ahead, ends the watch.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np

from ._cuts import EXCURSION, frame_features, is_cut

__all__ = ["ExcursionWatch", "watched_step"]


class ExcursionWatch:
    """A detected cut that a fixed-lag stabiliser may still take back.

    ``state`` is the stabiliser's ``__dict__`` before frame ``a``; ``dts`` the time step of
    each frame given since, ``a`` included.
    """

    def __init__(self, state: dict) -> None:
        self.state = state
        # is_cut's arguments for frame a: the last measured frame p before it, the one before p, their gaps
        self.prev, self.before, self.gap, self.gap_before = (
            state[k] for k in ("_prev_feat", "_before_feat", "_gap", "_gap_before"))
        self.dts: list[float] = []

    def returns(self, feat: tuple) -> bool:
        """Is the next frame, of features ``feat``, no cut against ``p``?"""
        return not is_cut(*feat, self.prev, self.before, self.gap + len(self.dts), self.gap_before)

    def take_back(self, stab: Any, z: np.ndarray, dt: float, feat: tuple) -> np.ndarray | None:
        """Restore ``stab`` (a ``LandmarkStabilizer``) to before frame ``a``, give it frames
        ``a`` .. now - 1 as missed and then ``z``: the output due now. Raises ValueError, with
        ``stab`` as it was, where ``z`` has no similarity fit."""
        now = copy.deepcopy(stab.__dict__)
        keep = {k: stab.__dict__[k] for k in ("_use_t", "_n", "_last_t", "_unit", "_frame")}
        try:
            stab.__dict__.update(self.state)  # (its watch: None)
            stab.__dict__.update(keep)
            for d in self.dts:
                stab._advance(None, d, False)
                stab._emit()  # returned before, when the cut stood
            stab._advance(z, dt, False, feat)
        except ValueError:
            stab.__dict__.clear()
            stab.__dict__.update(now)
            raise
        return stab._emit()


def watched_step(stab: Any, z: np.ndarray | None, dt: float, cut: bool) -> np.ndarray | None:
    """One frame of a fixed-lag ``LandmarkStabilizer`` (its ``_advance`` and ``_emit``) under
    the excursion watch: the output due now."""
    feat = None if z is None else frame_features(z[:, 0] + 1j * z[:, 1])
    detected = not cut and stab._detects_cut(feat)
    w = stab.__dict__.get("_watch")  # (a stabiliser pickled before the watch existed has none)
    if w is not None and detected and w.returns(feat):
        return w.take_back(stab, z, dt, feat)
    state = copy.deepcopy(stab.__dict__) if w is None and detected else None
    stab._advance(z, dt, cut, feat, detected)  # (raises before it changes anything)
    if state is not None:
        stab._watch = w = ExcursionWatch(state)
    if w is not None:
        w.dts.append(dt)
        if cut or len(w.dts) > min(stab.lag, EXCURSION):
            stab._watch = None
    return stab._emit()
