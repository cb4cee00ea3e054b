"""The fuzzer's fast profile in the normal test run: every case batch in a child process."""

from __future__ import annotations

import numpy as np
import pytest

import ffaccel
from fuzz import cases, runner
from fuzz.__main__ import FAST_CASES


def test_fast_profile_finds_nothing():
    findings = runner.run(seed=2026, cases=FAST_CASES, batch=FAST_CASES // 2, log=lambda _: None)
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


PLAN_OPS = ("WarpPlan", "PastePlan", "FeatherPlan", "InsightfacePlan")


def _plan_cases(n=FAST_CASES):
    return [c for c in (cases.make_case(2026, i) for i in range(n)) if c.op in PLAN_OPS]


def test_plan_cases_take_the_prepared_path_and_fall_back(monkeypatch):
    # A plan whose plain op is replaced by a spy: a call that never reaches it took the prepared
    # path. The first 1,000 cases (about 48 of each plan) have valid calls on both paths, and refusals.
    real, seen = ffaccel.prepare, {"fallback": False}

    def prepare(*args, **kwargs):
        plan = real(*args, **kwargs)
        op = plan.op

        def spy(*a, **k):
            seen["fallback"] = True
            return op(*a, **k)
        spy.__name__ = op.__name__
        plan.op = spy
        return plan
    monkeypatch.setattr(ffaccel, "prepare", prepare)
    paths: dict[str, set[str]] = {}
    for case in _plan_cases(1000):
        seen["fallback"] = False
        status, _, _ = runner._call(case, case.arrays)
        path = "fallback" if seen["fallback"] else "prepared"
        paths.setdefault(case.op, set()).add(f"{path} {status}" if status == "ok" else status)
    for op in PLAN_OPS:
        assert {"prepared ok", "fallback ok", "refused"} <= paths[op], (op, paths[op])


def test_a_plan_that_differs_from_the_plain_op_is_reported(monkeypatch):
    # A broken plan that neither refuses nor computes: every plan case with a plain-op reference
    # must be reported as plan-differs, and no other.
    class Broken:
        def __call__(self, *args, **kwargs):
            return np.zeros(1, np.uint8)
    monkeypatch.setattr(ffaccel, "prepare", lambda *a, **k: Broken())
    checked = 0
    for case in _plan_cases():
        differs = [f for f in runner.run_case(case, None) if f.startswith("plan-differs")]
        assert len(differs) == (case.plain is not None), (case.describe(), differs)
        checked += case.plain is not None
    assert checked >= 50


def test_a_crash_is_reported_naming_the_case(monkeypatch):
    # A worker that dies on case 3 (SIGSEGV in the child): the parent names case 3 and goes on.
    monkeypatch.setenv("FFACCEL_FUZZ_ABORT_AT", "3")
    findings = runner.run(seed=2026, cases=6, batch=6, log=lambda _: None)
    crashes = [f for f in findings if f["finding"].startswith("crash")]
    assert [f["case"] for f in crashes] == [3], findings
    assert "case 3 " in crashes[0]["what"]


def test_long_runs_print_progress_between_batches(monkeypatch, capsys):
    monkeypatch.setattr(runner, "PROGRESS_S", 0.0)  # a line before every batch
    runner.run(seed=2026, cases=4, batch=2, log=lambda _: None)
    lines = [ln for ln in capsys.readouterr().err.splitlines() if ln.startswith("fuzz: ")]
    assert [ln.split(",")[0] for ln in lines] == ["fuzz: 0/4 cases", "fuzz: 2/4 cases"], lines


def test_ops_filter_runs_only_those_cases_at_their_full_run_indices(capsys):
    runner.worker(2026, 0, 60, None, frozenset({"feather_mask"}))
    started = [int(ln.split()[1]) for ln in capsys.readouterr().out.splitlines() if ln.startswith("START ")]
    expected = [i for i in range(60) if cases.make_case(2026, i).op == "feather_mask"]
    assert expected and started == expected


@pytest.mark.cuda
@pytest.mark.parametrize("fw", ["cupy", "torch"])
def test_gpu_mode_matches_cpu_bytes(fw):
    pytest.importorskip(fw)
    findings = runner.run(seed=2026, cases=FAST_CASES, batch=FAST_CASES // 2, gpu=fw, log=lambda _: None)
    assert not findings, "\n".join(f"{f['what']}: {f['finding']}" for f in findings)


def test_overlap_outs_share_memory_with_non_contiguous_inputs():
    # GPU fuzz case 5687: reshape(-1) copies a channels-reversed crop, so the host "overlap:crop"
    # out shared no byte with it while the device one (a contiguous copy) did.
    from fuzz import base

    crop = np.zeros((22, 32, 3), np.uint8)[:, :, ::-1]
    out = base.make_out("overlap:crop", {"crop": crop}, (13, 18, 3), np.uint8)
    assert out.flags.c_contiguous and np.shares_memory(out, crop)
    inside = base._view_into(crop, (4, 5, 3), None)
    assert inside is not None and np.shares_memory(inside, crop)
