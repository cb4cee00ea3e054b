"""The modes of ``stabilize_track`` / ``LandmarkStabilizer`` and their argument check."""

from __future__ import annotations

import numpy as np

__all__ = ["MODES", "check_mode"]

MODES = ("offline", "fixed_lag", "causal")


def check_mode(mode, lag) -> tuple[str, int]:
    """``(mode, lag)`` checked: mode one of ``MODES``, lag an int >= 0 (frames)."""
    if not isinstance(mode, str) or mode not in MODES:
        raise ValueError(f"mode: expected one of {MODES}, got {mode!r}")
    if isinstance(lag, (bool, np.bool_)) or not isinstance(lag, (int, np.integer)):
        raise TypeError(f"lag: expected an int number of frames, got {type(lag).__name__}")
    if lag < 0:
        raise ValueError(f"lag: expected >= 0 frames, got {lag}")
    return mode, int(lag)
