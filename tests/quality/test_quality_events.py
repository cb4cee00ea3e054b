"""Jitter events, negative outliers and NaN-free statistics on value series."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ffaccel.quality import find_jitter_events, find_negative_outliers, finite_stats
from ffaccel.quality.events import JITTER_WINDOW

# Normal values vary by at most 2.5 dB (less than the 3 dB threshold); spikes drop 8+ dB.
NORMAL_DB = (38.59, 36.09)


@st.composite
def series_with_planted_spikes(draw):
    # Spikes are planted at least JITTER_WINDOW + 1 apart, so a spike never sits in the
    # running mean of the next one (a deep spike lowers the mean the next is measured from).
    length = draw(st.integers(8, 150))
    base = [draw(st.sampled_from(NORMAL_DB)) for _ in range(length)]
    spikes = []
    position = draw(st.integers(1, 8))
    while position < length:
        spikes.append(position)
        base[position] = draw(st.floats(10.0, 28.0))
        position += draw(st.integers(JITTER_WINDOW + 1, 20))
    return base, spikes


@given(series_with_planted_spikes())
@settings(max_examples=200, deadline=None)
def test_every_planted_spike_is_found_and_nothing_else(case):
    values, spikes = case
    found = [position for position, _ in find_jitter_events(values, 3.0)]
    assert found == spikes


def test_running_mean_is_over_the_last_five_values():
    # Before the last value the last five are all 40 (drop 3.5 dB: an event); a
    # six-value window would also hold the 34 (mean 39, drop 2.5 dB: no event).
    values = [34, 40, 40, 40, 40, 40, 36.5]
    assert find_jitter_events(values, 3.0) == [(6, 40.0)]
    assert find_jitter_events(values, 3.0, window=6) == []


def test_drop_equal_to_threshold_is_not_an_event():
    assert find_jitter_events([40.0, 37.0], 3.0) == []
    assert find_jitter_events([40.0, 36.99], 3.0) == [(1, 40.0)]


def test_infinite_and_missing_values_are_skipped():
    values = [40.0, math.inf, None, 40.0, math.inf, 30.0]
    assert find_jitter_events(values, 3.0) == [(5, 40.0)]


def test_rising_values_are_never_events():
    assert find_jitter_events([20.0, 30.0, 40.0, 60.0], 3.0) == []


@pytest.mark.parametrize(
    "kwargs, word",
    [({"threshold_db": 0.0}, "threshold_db"), ({"threshold_db": math.nan}, "threshold_db"),
     ({"threshold_db": 3.0, "window": 0}, "window")],
)
def test_jitter_bad_arguments(kwargs, word):
    with pytest.raises(ValueError, match=word):
        find_jitter_events([1.0, 2.0], **kwargs)


def test_negative_outliers_found_below_the_bulk_only():
    values = [40.0, 40.3, 39.8, 40.1, 25.0, 39.9, 55.0, 40.2]
    assert find_negative_outliers(values) == [4]


def test_flat_series_flags_nothing_within_the_sigma_floor():
    assert find_negative_outliers([40.0] * 10 + [39.7]) == []
    assert find_negative_outliers([40.0] * 10 + [39.0]) == [10]


def test_finite_stats_never_nan():
    assert finite_stats([]) == {"mean": None, "std": None, "min": None, "max": None, "count": 0, "infinite": 0}
    stats = finite_stats([math.inf, math.inf, None])
    assert stats["mean"] is None and stats["infinite"] == 2
    stats = finite_stats([30.0, math.inf, 40.0])
    assert stats == {"mean": 35.0, "std": 5.0, "min": 30.0, "max": 40.0, "count": 2, "infinite": 1}
