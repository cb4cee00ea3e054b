"""ffaccel.distributed.worker and the runner's Ray start-up, without a Ray cluster.

- keep_freed_memory: after it, a batch loop (two 22 MB arrays made and freed per batch, as
  an actor's pass 2 does) faults in no new pages; without it, glibc trims and re-faults.
- _init_ray: a local cluster started by run_jobs runs its workers at nice 0 (Ray's default is
  15); an address, or the user's own setting, is left alone, and the variable does not outlive
  the call.
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys

import pytest

from ffaccel.distributed import runner

_BATCHES = """
import resource, sys
import numpy as np
if sys.argv[1] == "keep":
    from ffaccel.distributed.worker import keep_freed_memory
    assert keep_freed_memory()
def batch():
    frames = np.empty((8, 720, 1280, 3), np.uint8)  # a batch as read_range makes it
    frames.fill(1)
    out = frames.copy()                              # the pipeline's output batch
    return int(out[0, 0, 0, 0])
for _ in range(3):
    batch()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(10):
    batch()
print((resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / 10)
"""


def _faults_per_batch(mode: str) -> float:
    env = dict(os.environ)
    package = os.path.dirname(os.path.dirname(os.path.abspath(runner.__file__)))  # .../ffaccel
    env["PYTHONPATH"] = os.pathsep.join([os.path.dirname(package), env.get("PYTHONPATH", "")])
    out = subprocess.run([sys.executable, "-c", _BATCHES, mode], capture_output=True, text=True, env=env, check=True)
    return float(out.stdout.strip().splitlines()[-1])


@pytest.mark.skipif(platform.system() != "Linux" or platform.libc_ver()[0] != "glibc", reason="glibc's mallopt only")
def test_keep_freed_memory_stops_the_batch_page_faults():
    plain = _faults_per_batch("plain")
    if plain < 100:
        pytest.skip(f"this glibc keeps the freed batches itself ({plain} faults a batch): nothing to show")
    kept = _faults_per_batch("keep")
    assert kept < 10, f"{kept} minor faults a batch with keep_freed_memory (without: {plain})"


class _FakeRay:
    def __init__(self) -> None:
        self.seen: list[tuple[str | None, str | None]] = []

    def init(self, address=None, **kwargs):
        self.seen.append((address, os.environ.get("RAY_worker_niceness")))


def test_local_cluster_workers_run_at_nice_zero(monkeypatch):
    monkeypatch.delenv("RAY_worker_niceness", raising=False)
    fake = _FakeRay()
    runner._init_ray(fake, None, {})
    assert fake.seen == [(None, "0")]
    assert "RAY_worker_niceness" not in os.environ  # not left behind
    runner._init_ray(fake, "auto", {})  # an existing cluster keeps its own setting
    assert fake.seen[-1] == ("auto", None)
    monkeypatch.setenv("RAY_worker_niceness", "7")  # the user's choice wins
    runner._init_ray(fake, None, {})
    assert fake.seen[-1] == (None, "7") and os.environ["RAY_worker_niceness"] == "7"
