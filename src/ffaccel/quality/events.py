"""Series analysis: jitter events, negative outliers and NaN-free statistics.

These work on plain sequences of floats (tPSNR or ΔtPSNR values in dB, one per
sampled frame); ``math.inf`` marks an identical pair and ``None`` a missing value,
both of which are skipped.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence

__all__ = ["JITTER_WINDOW", "find_jitter_events", "find_negative_outliers", "finite_stats"]

JITTER_WINDOW = 5
"""How many preceding values form the running mean a jitter drop is measured from."""

# Robust outlier rule: a value this many robust standard deviations below the median.
_OUTLIER_Z = 3.5
_MAD_TO_SIGMA = 1.4826  # MAD of a normal distribution times this is its sigma
# Floor on the robust sigma (dB) so a flat series does not flag rounding noise.
_MIN_SIGMA_DB = 0.1


def _finite_positions(values: Sequence[float | None]) -> list[int]:
    return [i for i, v in enumerate(values) if v is not None and math.isfinite(v)]


def find_jitter_events(
    values: Sequence[float | None], threshold_db: float, window: int = JITTER_WINDOW
) -> list[tuple[int, float]]:
    """Find drops of more than ``threshold_db`` below the running mean of the last values.

    Value k is an event when ``mean(previous up-to-window finite values) - value_k >
    threshold_db``. Non-finite and ``None`` values are skipped (they neither trigger
    nor enter the window); the first finite value has no history and is never an
    event. Every finite value, events included, enters the window afterwards.

    Args:
        values: per-sample figures in dB.
        threshold_db: minimum drop in dB, > 0.
        window: how many preceding finite values the running mean covers, >= 1.

    Returns:
        ``(position in values, running mean before it)`` for each event, in order.

    >>> find_jitter_events([40, 40, 40, 30, 40, 40], 3.0)
    [(3, 40.0)]
    """
    if not (isinstance(threshold_db, (int, float)) and math.isfinite(threshold_db)) or threshold_db <= 0:
        raise ValueError(f"threshold_db: expected a finite number > 0, got {threshold_db!r}")
    if not isinstance(window, int) or window < 1:
        raise ValueError(f"window: expected an int >= 1, got {window!r}")
    events: list[tuple[int, float]] = []
    history: list[float] = []
    for position in _finite_positions(values):
        value = float(values[position])  # type: ignore[arg-type]
        if history:
            running_mean = sum(history) / len(history)
            if running_mean - value > threshold_db:
                events.append((position, running_mean))
        history.append(value)
        if len(history) > window:
            history.pop(0)
    return events


def find_negative_outliers(values: Sequence[float | None]) -> list[int]:
    """Positions of values far below the bulk: under median - 3.5 robust sigmas.

    The robust sigma is 1.4826 x the median absolute deviation, floored at 0.1 dB so
    a perfectly flat series does not flag tiny differences. Needs at least 3 finite
    values; non-finite and ``None`` values are skipped.

    >>> find_negative_outliers([40.0, 40.2, 39.9, 40.1, 30.0, 40.0])
    [4]
    """
    positions = _finite_positions(values)
    if len(positions) < 3:
        return []
    finite = [float(values[p]) for p in positions]  # type: ignore[arg-type]
    median = statistics.median(finite)
    mad = statistics.median(abs(v - median) for v in finite)
    sigma = max(_MAD_TO_SIGMA * mad, _MIN_SIGMA_DB)
    limit = median - _OUTLIER_Z * sigma
    return [p for p, v in zip(positions, finite) if v < limit]


def finite_stats(values: Sequence[float | None]) -> dict[str, float | int | None]:
    """Mean, population std, min and max over the finite values; never NaN.

    Returns a dict with ``mean``, ``std``, ``min``, ``max`` (``None`` when there is no
    finite value), ``count`` (finite values used) and ``infinite`` (``inf`` entries).

    >>> finite_stats([1.0, 3.0, float("inf")])
    {'mean': 2.0, 'std': 1.0, 'min': 1.0, 'max': 3.0, 'count': 2, 'infinite': 1}
    """
    finite = [float(values[p]) for p in _finite_positions(values)]  # type: ignore[arg-type]
    infinite = sum(1 for v in values if v is not None and math.isinf(v))
    if not finite:
        return {"mean": None, "std": None, "min": None, "max": None, "count": 0, "infinite": infinite}
    return {
        "mean": statistics.fmean(finite),
        "std": statistics.pstdev(finite),
        "min": min(finite),
        "max": max(finite),
        "count": len(finite),
        "infinite": infinite,
    }
