"""Run one script under both CPU builds of the extension: the x86-64-v3 (AVX2) loops and the
baseline (SSE2, scalar) ones, which ``FFACCEL_CPU_BASELINE=1`` selects at import time.

The SIMD loops repeat the header's formula lane by lane (docs/design.md), and the tests prove
it by hashing the same outputs under both builds. A child process per build, since the
choice is made once per process.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys

import pytest

_REPORT_VARIANT = "\nimport ffaccel._core as _core_of_child\nprint(_core_of_child.build_info()['cpu_variant'])\n"


def cpu_has_v3() -> bool:
    """Whether this CPU has what the x86-64-v3 build needs (AVX2, FMA, BMI2), from /proc/cpuinfo."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            flags = next((line.split(":", 1)[1].split() for line in f if line.startswith("flags")), [])
    except OSError:
        return False
    return {"avx2", "fma", "bmi2"} <= set(flags)


def digests_of_both_builds(script: str, timeout: float = 600) -> list[str]:
    """[x86-64-v3 digest, baseline digest] of ``script``, which prints a SHA-256 hex digest last.

    Asserts that each child really ran the build it asked for (so a CPU or a wheel without the
    AVX2 variant cannot pass by comparing the baseline with itself); skips on a CPU without it.
    """
    if not cpu_has_v3():
        pytest.skip("this CPU lacks AVX2/FMA/BMI2: only the baseline build can run here")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    digests, variants = [], []
    for baseline in ("0", "1"):
        env["FFACCEL_CPU_BASELINE"] = baseline
        res = subprocess.run([sys.executable, "-c", script + _REPORT_VARIANT], env=env, capture_output=True,
                             text=True, timeout=timeout)
        assert res.returncode == 0, res.stderr
        *_, digest, variant = res.stdout.split()
        assert len(digest) == len(hashlib.sha256().hexdigest()), res.stdout
        digests.append(digest)
        variants.append(variant)
    assert variants == ["x86-64-v3", "baseline"]  # both builds really ran
    return digests
