"""ffaccel.runtime imports and its numpy-only parts work without torch or onnxruntime."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import ffaccel.runtime

SRC = str(Path(ffaccel.runtime.__file__).resolve().parents[2])

CODE = """
import sys
sys.modules["torch"] = None          # any `import torch` now raises ImportError
sys.modules["onnxruntime"] = None
import numpy as np
import ffaccel.runtime as rt
assert "torch" not in [m for m in sys.modules if sys.modules[m] is not None]
assert rt.bucket_batch_size(5, max_bucket=8) == 8
bp = rt.BatchProcessor(lambda b: b + 1, max_batch=2)
out = bp.submit("a", np.zeros(2)) + bp.submit("b", np.ones(2))
assert [k for k, _ in out] == ["a", "b"]
assert rt.MemoryPolicy("strict").release().actions == ["clear_graphs", "gc.collect"]
try:
    rt.require_onnxruntime_gpu()
except rt.OrtCudaUnavailableError:
    pass
else:
    raise AssertionError("expected OrtCudaUnavailableError")
try:
    with rt.deterministic_context():
        pass
except ImportError as exc:
    assert "PyTorch" in str(exc)
else:
    raise AssertionError("expected ImportError")
print("ok")
"""


def test_imports_without_torch():
    env = {**os.environ, "PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", "")}
    res = subprocess.run([sys.executable, "-c", CODE], capture_output=True, text=True, env=env, timeout=60)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "ok"


def test_all_names_exist():
    for name in ffaccel.runtime.__all__:
        assert getattr(ffaccel.runtime, name) is not None
