"""ffaccel.status(), `ffaccel info`, and the architecture-coverage logic behind them."""

from __future__ import annotations

import json
import subprocess
import sys

import ffaccel
from ffaccel._status import _code_for

ARCHS = ["75-real", "80-real", "86-real", "89-real", "90-real", "100-real", "120"]


def test_status_has_the_documented_keys():
    s = ffaccel.status()
    for key in ("version", "cuda_built", "cuda_archs", "cuda_reason", "cuda_runtime_version", "driver_version",
                "driver_required", "gpus", "cpu_threads", "numpy", "cupy", "torch"):
        assert key in s, key
    assert s["version"] == ffaccel.__version__
    assert s["numpy"]["available"]
    if not s["cuda_built"]:
        assert s["cuda_reason"], "a CPU-only build must say why"


def test_code_for_machine_code_and_ptx():
    assert _code_for((9, 0), ARCHS) == "sm_90 machine code"
    assert _code_for((8, 7), ARCHS) == "sm_86 machine code"  # same major, lower minor runs
    assert _code_for((12, 1), ARCHS) == "sm_120 machine code"
    assert _code_for((13, 0), ARCHS).startswith("PTX compute_120")
    assert _code_for((7, 0), ARCHS) is None  # Volta: nothing in the default build
    assert _code_for((9, 0), ["80-real"]) is None


def test_info_command_prints_and_exits_zero():
    r = subprocess.run([sys.executable, "-m", "ffaccel", "info"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "ffaccel " + ffaccel.__version__ in r.stdout
    assert "CUDA kernels" in r.stdout


def test_info_json_round_trips():
    r = subprocess.run([sys.executable, "-m", "ffaccel", "info", "--json"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["version"] == ffaccel.__version__


def test_no_command_prints_help_and_fails():
    r = subprocess.run([sys.executable, "-m", "ffaccel"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "usage" in r.stdout
