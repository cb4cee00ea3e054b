"""The fuzzer's fast profile in the normal test run: every case batch in a child process."""

from __future__ import annotations

import pytest

from fuzz import cases, runner
from fuzz.__main__ import FAST_CASES


def test_fast_profile_finds_nothing():
    findings = runner.run(seed=2026, cases=FAST_CASES, batch=170, log=lambda _: None)
    assert not findings, "\n".join(f"{f['what']}: {f['finding']}" for f in findings)


def test_every_op_is_fuzzed_with_hostile_and_valid_calls():
    seen: dict[str, set[str]] = {}
    for i in range(FAST_CASES):
        case = cases.make_case(2026, i)
        status, _, _ = runner._call(case, case.arrays)
        seen.setdefault(case.op, set()).add(status)
    assert set(seen) == set(cases.GENERATORS)
    for op, statuses in seen.items():
        assert {"ok", "refused"} <= statuses, (op, statuses)


def test_a_crash_is_reported_naming_the_case(monkeypatch):
    # A worker that dies on case 3 (SIGSEGV in the child): the parent names case 3 and goes on.
    monkeypatch.setenv("FFACCEL_FUZZ_ABORT_AT", "3")
    findings = runner.run(seed=2026, cases=6, batch=6, log=lambda _: None)
    crashes = [f for f in findings if f["finding"].startswith("crash")]
    assert [f["case"] for f in crashes] == [3], findings
    assert "case 3 " in crashes[0]["what"]


def test_ops_filter_runs_only_those_cases_at_their_full_run_indices(capsys):
    runner.worker(2026, 0, 60, None, frozenset({"feather_mask"}))
    started = [int(ln.split()[1]) for ln in capsys.readouterr().out.splitlines() if ln.startswith("START ")]
    expected = [i for i in range(60) if cases.make_case(2026, i).op == "feather_mask"]
    assert expected and started == expected


@pytest.mark.cuda
@pytest.mark.parametrize("fw", ["cupy", "torch"])
def test_gpu_mode_matches_cpu_bytes(fw):
    pytest.importorskip(fw)
    findings = runner.run(seed=2026, cases=FAST_CASES, batch=170, gpu=fw, log=lambda _: None)
    assert not findings, "\n".join(f"{f['what']}: {f['finding']}" for f in findings)
