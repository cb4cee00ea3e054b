"""Every docstring example in ffaccel.quality runs and gives what it shows."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "ffaccel.quality.metrics",
    "ffaccel.quality.events",
    "ffaccel.quality.relative",
    "ffaccel.quality.monitor",
    "ffaccel.quality.progress",
    "ffaccel.quality.video",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0, f"{name} has no examples"
    assert result.failed == 0
