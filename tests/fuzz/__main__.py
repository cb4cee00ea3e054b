"""``python -m tests.fuzz``: the hostile-input fuzzer.

  python -m tests.fuzz                     fast profile: 420 cases on the CPU
  python -m tests.fuzz --long              long profile: 10,000 cases
  python -m tests.fuzz --gpu cupy          also run each case on the GPU (cupy or torch) and
                                           compare CPU and GPU bytes
  compute-sanitizer --tool memcheck python -m tests.fuzz --long --gpu cupy
  compute-sanitizer --tool racecheck python -m tests.fuzz --gpu cupy
  python -m tests.fuzz --start 1040 --cases 1 --batch 1     re-run one case alone

Each batch of cases runs in a child process, so a crash is reported as a finding naming
the case. Exit status 1 when there are findings.
"""

from __future__ import annotations

import argparse
import json
import sys

from . import runner

FAST_CASES = 420  # 20 cases of each of the 21 ops
LONG_CASES = 10_000


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tests.fuzz", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--long", action="store_true", help=f"{LONG_CASES} cases instead of {FAST_CASES}")
    ap.add_argument("--cases", type=int, help="number of cases (overrides --long)")
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument("--batch", type=int, default=250, help="cases per child process")
    ap.add_argument("--gpu", choices=["cupy", "torch"], help="compare each case with a GPU run")
    ap.add_argument("--json", help="write the findings to this file")
    ap.add_argument("--timeout", type=float, default=600.0,
                    help="seconds per child batch (raise it under compute-sanitizer)")
    ap.add_argument("--ops", default="", help="comma-separated op names: run only their cases (same indices)")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--start", type=int, default=0, help="first case index (to bisect a finding)")
    ap.add_argument("--count", type=int, default=0, help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    ops = frozenset(filter(None, a.ops.split(",")))
    unknown = ops - set(runner.C.GENERATORS)
    if unknown:
        ap.error(f"--ops: unknown op(s) {sorted(unknown)}; known: {sorted(runner.C.GENERATORS)}")
    if a.worker:
        runner.worker(a.seed, a.start, a.count, a.gpu, ops)
        return 0
    n = a.cases or (LONG_CASES if a.long else FAST_CASES)
    findings = runner.run(a.seed, n, a.batch, a.gpu, timeout=a.timeout, start=a.start, ops=ops)
    for f in findings:
        print(f"{f['what']}: {f['finding']}")
    if a.json:
        with open(a.json, "w") as fh:
            json.dump(findings, fh, indent=1)
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main())
