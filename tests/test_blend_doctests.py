"""Every docstring example of the blending and colour ops runs and gives what it shows."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = ["ffaccel.ops.paste", "ffaccel.ops.color_transfer", "ffaccel.ops._color_state", "ffaccel.ops.boundary"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0, f"{name} has no examples"
    assert result.failed == 0
