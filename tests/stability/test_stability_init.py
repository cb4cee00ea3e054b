"""The package surface: exports, numpy-only import (tests/test_docstrings.py runs the examples)."""

from __future__ import annotations

import subprocess
import sys

import ffaccel.stability as stability


def test_all_names_exist():
    for name in stability.__all__:
        assert hasattr(stability, name), name


def test_runtime_import_does_not_pull_torch():
    code = "import sys, ffaccel.stability as s, numpy as np; s.refine_heatmap_landmarks(np.zeros((1, 1, 8, 8)), 'fhr'); print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
