"""Run fuzz cases: a worker (in a child process) and the parent that batches and reports.

Findings:
  unnamed       an exception other than TypeError / ValueError (or one whose message
                does not start with the argument's name, "name: ...")
  wrote-refused a refused call changed an array (nothing may be written before all checks pass)
  wrote-read-only  a call changed a read-only array (read-only flag, np.memmap mode "r", bytes)
  wrote-input   an accepted call changed an array it may not write (an input)
  nondeterministic  the same call twice gave different bytes
  gpu-bytes     GPU mode: the GPU result differs from the CPU result (array-level ops:
                by more than one level, as docs/api-stability.md exempts them)
  gpu-refusal   GPU mode: one side refused the call and the other did not
  plan-differs  a prepared call (ffaccel.prepare) gave another status, result, error message
                or set of written arrays than the plain op on the same arguments (on the
                CPU, and in GPU mode on the GPU too)
  crash         the child process died (segfault, abort) while running the case
  leak          nanobind reported leaked instances when a child process exited
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from . import cases as C
from . import devices

_NAMED = re.compile(r"^[A-Za-z_][\w\[\]'.]*: ")
ROOT = Path(__file__).resolve().parents[2]


def _snap(a: Any) -> Any:
    if isinstance(a, np.ndarray) and a.dtype.kind in "biufc" and a.dtype.fields is None:
        return a.tobytes()
    if devices.ACTIVE is not None and not isinstance(a, np.ndarray | list | str | type(None)) and hasattr(a, "shape"):
        return devices.to_host(a).tobytes()
    return None


def _bytes(res: Any) -> Any:
    res = devices.to_host(res)
    if isinstance(res, tuple):
        return tuple(_bytes(r) for r in res)
    if isinstance(res, np.ndarray):
        return (res.dtype.str, res.shape, res.tobytes())
    return res


def _call(case: C.Case, arrays: dict[str, Any], build=None) -> tuple[str, Any, set[str]]:
    """('ok', result bytes, changed names) or ('refused'|'unnamed', message, changed names).
    ``build`` replaces ``case.call`` (the plain op's call of a prepared-call case)."""
    C.ALIASED.clear()
    fn, args, kwargs = (build or case.call)(arrays)
    aliased = set(C.ALIASED)  # out *is* these inputs: a call that succeeds may write them
    watch = dict(arrays)
    if kwargs.get("out") is not None:
        watch["out"] = kwargs["out"]
    before = {k: _snap(v) for k, v in watch.items()}
    read_only = {k for k, v in watch.items() if isinstance(v, np.ndarray) and not v.flags.writeable}
    try:
        res = fn(*args, **kwargs)
        devices.synchronize()
        status, payload = "ok", _bytes(res)
    except (TypeError, ValueError) as exc:
        msg = f"{type(exc).__name__}: {exc}"
        status, payload = ("refused" if _NAMED.match(str(exc)) else "unnamed"), msg
    except Exception as exc:  # noqa: BLE001 - every other exception is a finding
        status, payload = "unnamed", f"{type(exc).__name__}: {exc}"
    changed = {k for k, v in watch.items() if before[k] is not None and _snap(v) != before[k]}
    if changed & read_only:  # never allowed, whatever the op may write
        changed = {f"read-only {k}" for k in changed & read_only} | changed
    elif status == "ok":
        changed -= aliased
    return status, payload, changed


def _close(a: Any, b: Any) -> bool:
    """Array-level ops: equal within one level (uint8) or 1e-3 relative (float)."""
    if isinstance(a, tuple) and len(a) == 3 and isinstance(a[2], bytes):
        x = np.frombuffer(a[2], np.dtype(a[0])).astype(np.float64)
        y = np.frombuffer(b[2], np.dtype(b[0])).astype(np.float64)
        if a[:2] != b[:2]:
            return False
        tol = 1.0 if np.dtype(a[0]) == np.uint8 else 1e-3 * (1 + np.abs(x))
        return bool(np.all((np.abs(x - y) <= tol) | (np.isnan(x) & np.isnan(y))))
    return a == b


def _plan_differs(case: C.Case, got: tuple[str, Any, set[str]], gpu: str | None) -> str | None:
    """A prepared-call case: the plain op's call on a fresh copy of the case (on the same
    side), compared with the plan's ``got``; a finding, or None."""
    ref = C.make_case(case.seed, case.index)
    arrays = ref.arrays
    if gpu is not None:
        devices.ACTIVE = gpu
        arrays = {k: devices.to_device(v) for k, v in ref.arrays.items()}
    try:
        want = _call(ref, arrays, ref.plain)
    finally:
        devices.ACTIVE = None
    if got == want:
        return None
    side = " (GPU)" if gpu else ""

    def show(r):
        what = f"{len(r[1][2])} bytes, digest {hash(r[1][2]) & 0xFFFFFFFF:08x}" if r[0] == "ok" and isinstance(
            r[1], tuple) and len(r[1]) == 3 else str(r[1])[:160]
        return f"{r[0]} ({what}), wrote {sorted(r[2])}"
    return f"plan-differs{side}: plan {show(got)}; plain op {show(want)}"


def run_case(case: C.Case, gpu: str | None) -> list[str]:
    findings = []
    dev_arrays = None
    host_only = any(t.split("=", 1)[-1] in ("readonly", "memmap", "bytes", "list", "noncontig") for t in case.tags)
    if gpu is not None and not host_only:
        devices.ACTIVE = gpu
        try:  # copied before the CPU run, which may write an input in place
            dev_arrays = {k: devices.to_device(v) for k, v in case.arrays.items()}
        except (TypeError, ValueError, RuntimeError):  # dtypes the framework cannot hold (object, str, ...)
            dev_arrays = None
    devices.ACTIVE = None
    status, payload, changed = _call(case, case.arrays)
    if case.plain is not None:
        f = _plan_differs(case, (status, payload, changed), None)
        if f:
            findings.append(f)
    if status == "unnamed":
        findings.append(f"unnamed: {payload}")
    if status != "ok" and changed:
        findings.append(f"wrote-refused: {sorted(changed)} changed by a refused call ({payload})")
    if any(k.startswith("read-only ") for k in changed):
        findings.append(f"wrote-read-only: {sorted(k for k in changed if k.startswith('read-only '))}")
    elif status == "ok" and changed - case.writes:
        findings.append(f"wrote-input: {sorted(changed - case.writes)} changed")
    if status == "ok" and not (case.writes - {"out"}) and not any("same:" in t or "overlap:" in t for t in case.tags):
        again = _call(case, case.arrays)
        if again[0] != "ok" or again[1] != payload:
            findings.append("nondeterministic: a second identical call gave other bytes")
    if dev_arrays is None:
        return findings
    devices.ACTIVE = gpu
    try:
        g_status, g_payload, g_changed = _call(case, dev_arrays)
    except devices.HostOnly:
        return findings
    finally:
        devices.ACTIVE = None
    if case.plain is not None:
        try:
            f = _plan_differs(case, (g_status, g_payload, g_changed), gpu)
        except devices.HostOnly:
            f = None
        if f:
            findings.append(f)
    if g_status == "unnamed":
        findings.append(f"unnamed (GPU): {g_payload}")
    if (status == "ok") != (g_status == "ok") and g_status != "unnamed":
        findings.append(f"gpu-refusal: CPU {status} ({str(payload)[:120]}), GPU {g_status} ({str(g_payload)[:120]})")
    if g_status != "ok" and g_changed:
        findings.append(f"wrote-refused (GPU): {sorted(g_changed)}")
    if status == "ok" and g_status == "ok":
        same = _close(payload, g_payload) if case.exempt else payload == g_payload
        if not same:
            findings.append("gpu-bytes: GPU result differs from the CPU result")
    return findings


def worker(seed: int, start: int, count: int, gpu: str | None, ops: frozenset[str] = frozenset()) -> None:
    out = sys.stdout
    abort_at = int(os.environ.get("FFACCEL_FUZZ_ABORT_AT", "-1"))  # the crash-report test's hook
    for i in range(start, start + count):
        case = C.make_case(seed, i)
        if ops and case.op not in ops:  # --ops: the other ops' cases are skipped, not run
            continue
        out.write(f"START {i}\n")
        out.flush()
        if i == abort_at:
            import resource
            import signal

            resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # no core file in the checkout
            os.kill(os.getpid(), signal.SIGSEGV)
        for f in run_case(case, gpu):
            out.write("FIND " + json.dumps({"case": i, "what": case.describe(), "finding": f}) + "\n")
        out.flush()
    out.write("DONE\n")
    out.flush()


PROGRESS_S = 10.0  # seconds between progress lines (stderr) of a run


def run(seed: int, cases: int, batch: int, gpu: str | None = None, timeout: float = 600.0,
        log=print, start: int = 0, ops: frozenset[str] = frozenset()) -> list[dict[str, Any]]:
    """Run cases start..start+cases-1 in child processes of ``batch`` cases each; return the findings.
    With ``ops``, only the cases of those ops run (the same cases, by index, as in a full run)."""
    findings: list[dict[str, Any]] = []
    i = start
    cases += start
    t0 = time.perf_counter()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    shown = t0
    while i < cases:
        if time.perf_counter() - shown >= PROGRESS_S:  # long runs: a line at most every PROGRESS_S seconds
            shown = time.perf_counter()
            print(f"fuzz: {i - start}/{cases - start} cases, {len(findings)} findings, {shown - t0:.0f} s",
                  file=sys.stderr, flush=True)
        n = min(batch, cases - i)
        cmd = [sys.executable, "-m", "tests.fuzz", "--worker", "--seed", str(seed), "--start", str(i),
               "--count", str(n)] + (["--gpu", gpu] if gpu else []) + (["--ops", ",".join(sorted(ops))] if ops else [])
        try:
            proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)
            stdout, rc, err = proc.stdout, proc.returncode, proc.stderr
        except subprocess.TimeoutExpired as exc:
            stdout = exc.stdout.decode() if isinstance(exc.stdout, bytes) else (exc.stdout or "")
            rc, err = "timeout", ""
        last, done = i - 1, False
        for line in stdout.splitlines():
            if line.startswith("START "):
                last = int(line.split()[1])
            elif line.startswith("FIND "):
                findings.append(json.loads(line[5:]))
            elif line == "DONE":
                done = True
        leaks = [ln for ln in err.splitlines() if "nanobind" in ln and "leak" in ln]
        if done and leaks:  # nanobind's report at the child's exit: instances nobody released
            findings.append({"case": i, "what": f"cases {i}..{i + n - 1}",
                             "finding": "leak: " + " | ".join(leaks[:4])})
        if not done:
            case = C.make_case(seed, max(last, i))
            findings.append({"case": case.index, "what": case.describe(),
                             "finding": f"crash: child exited with {rc} while running the case; {err[-400:]}"})
            i = max(last, i) + 1
        else:
            i += n
    what = f"the {'/'.join(sorted(ops))} cases of " if ops else ""
    log(f"fuzz: {what}{cases - start} cases from {start}, seed {seed}, {'GPU ' + gpu if gpu else 'CPU'}: {len(findings)} findings "
        f"in {time.perf_counter() - t0:.1f} s")
    return findings
