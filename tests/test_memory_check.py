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


def test_plot_memory_growth_reads_progress_lines(tmp_path):
    # benchmarks/plot_memory_growth.py: one curve per (log, op) from memory_check's progress
    # lines, --only filters by name part, and the PNG is written
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import plot_memory_growth as pmg

    log = tmp_path / "m.log"
    log.write_text(
        "op                                   calls  RSS before     after   growth  dev growth      s\n"
        "  boundary_blend: 7424/100000 calls, 21 s, RSS +0.85 MiB, device +0.00 MiB\n"
        "  boundary_blend: 3840/100000 calls, 10 s, RSS +0.30 MiB, device +0.00 MiB\n"
        "  boundary_blend(out=): 3840/100000 calls, 10 s, RSS +0.00 MiB, device +0.00 MiB\n"
        "  color_transfer: 2000/100000 calls, 10 s, RSS -0.01 MiB, device +0.00 MiB\n"
        "boundary_blend                      100000     668.4MiB   668.5MiB   +0.01M      +0.00M  264.2\n")
    got = pmg.curves(str(log), "run", [])
    assert got == {"run: boundary_blend": [(3840, 0.30), (7424, 0.85)],
                   "run: boundary_blend(out=)": [(3840, 0.0)],
                   "run: color_transfer": [(2000, -0.01)]}
    assert list(pmg.curves(str(log), "run", ["color"])) == ["run: color_transfer"]
    png = tmp_path / "g.png"
    assert pmg.main([f"run={log}", "--out", str(png)]) == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert pmg.main([f"run={log}", "--out", str(png), "--only", "nothing"]) == 1
