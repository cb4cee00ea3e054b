"""benchmarks/memory_check.py runs (a short profile: 300 calls of each op form on the CPU) and
covers every op form: the test_hostile table, the insightface paste and the prepared calls.
The 10^5-call profile is the benchmark's default (docs/fuzzing.md, "Memory")."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_memory_check_short_profile_covers_every_op_form():
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import memory_check as mc
    from test_hostile import NO_OUT_OPS, OUT_OPS

    import ffaccel

    # the child imports the ffaccel this process imported (an installed one in CI, src/ here)
    here = str(Path(ffaccel.__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [here, os.environ.get("PYTHONPATH")]))}
    run = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "memory_check.py"), "--calls", "300"],
                         capture_output=True, text=True, timeout=600, env=env)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    rows = {line.split()[0] for line in run.stdout.splitlines()[1:] if line and not line.startswith(" ")}
    want = {n for op in [*OUT_OPS, *mc.MORE_OUT_OPS] for n in (op, op + "(out=)")} | set(NO_OUT_OPS)
    assert want <= rows, f"op forms not checked: {sorted(want - rows)}"
    assert "0 ops grew by more than 8.0 MiB" in run.stdout
