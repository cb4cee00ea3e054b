"""Every docstring example in ffaccel.distributed runs and gives what it shows (no Ray needed)."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "ffaccel.distributed.container",
    "ffaccel.distributed.pipeline",
    "ffaccel.distributed.runner",
    "ffaccel.distributed.demo",
    "ffaccel.distributed.facefusion",
    "ffaccel.distributed.watch",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0, f"{name} has no examples"
    assert result.failed == 0
