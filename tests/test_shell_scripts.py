"""The shell scripts parse (`bash -n`): run_device.sh runs only on the lent GPU machine, where
a syntax error costs device time before anyone sees it."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = sorted([*ROOT.glob("benchmarks/*.sh"), *ROOT.glob("tests/*.sh"), ROOT / ".ci" / "run"])


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: str(p.relative_to(ROOT)))
def test_script_parses(script):
    bash = shutil.which("bash")
    assert bash is not None
    run = subprocess.run([bash, "-n", str(script)], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
