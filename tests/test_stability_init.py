"""The package surface: exports, runnable docstring examples, numpy-only import."""

from __future__ import annotations

import doctest
import importlib
import subprocess
import sys

import pytest

import ffaccel.stability as stability

MODULES = ["smoother", "one_euro", "offline", "stabilize", "stabilizer", "pose", "tracker", "eos_guard", "subpixel", "_face"]


def test_all_names_exist():
    for name in stability.__all__:
        assert hasattr(stability, name), name


@pytest.mark.parametrize("module", MODULES)
def test_docstring_examples_run(module):
    mod = importlib.import_module(f"ffaccel.stability.{module}")
    result = doctest.testmod(mod, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0


def test_runtime_import_does_not_pull_torch():
    code = "import sys, ffaccel.stability as s, numpy as np; s.refine_heatmap_landmarks(np.zeros((1, 1, 8, 8)), 'fhr'); print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
