"""ffaccel.distributed.watch: every wait of run_jobs ends, with an error that names the cause.

On a local Ray cluster of 2 CPUs and no GPU: GPU actors Ray cannot place, an actor whose
process dies in its constructor (Ray restarts it for ever), a call that never returns, and
jobs left without a live actor. Without the watch each of these waited without end.
"""

from __future__ import annotations

import io
import os
import sys
import time
from pathlib import Path

import pytest

ray = pytest.importorskip("ray", reason='Ray is not installed (pip install "ffaccel[ray]"): distributed watch '
                                        "tests skipped")

from ffaccel.distributed import DemoPipeline, Job, run_jobs, write_demo_clips  # noqa: E402
from ffaccel.distributed.watch import ActorStartError, ActorWatch, StallError, log_tails  # noqa: E402

FRAMES, SEG = 8, 4


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    return write_demo_clips(tmp_path_factory.mktemp("watch") / "in", 3, frames=FRAMES, width=160, height=96)


def _cpus_back(timeout_s: float = 30.0) -> bool:
    """True once the cluster's 2 CPUs are free again (the actors of the failed run were ended)."""
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        if ray.available_resources().get("CPU", 0) >= 2:
            return True
        time.sleep(0.2)
    return False


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if ".tmp-" in p.name or ".parts-" in p.name)


def test_gpu_actors_on_a_cluster_without_gpus_fail_in_bounded_time(cluster, clips, tmp_path):
    t0 = time.monotonic()
    with pytest.raises(ActorStartError) as err:
        run_jobs([Job(clips[0], tmp_path / "o.ffr")], DemoPipeline(crop_size=64), workers=1, gpus=True,
                 segment_frames=SEG, progress=False, start_timeout_s=3)
    assert time.monotonic() - t0 < 30
    text = str(err.value)
    assert "1 of 1 actors not running after 3 s" in text and "PENDING_CREATION" in text
    assert "no node of the cluster has GPU=1" in text and "num_gpus" in text
    # The folder, then (where raylet.err or a worker-*.err has text, e.g. Ray's own disk-space warning on
    # a full /tmp) the last lines of those logs in brackets.
    logs, _, tails = text.rsplit("Ray's logs: ", 1)[1].partition(" (last lines: ")
    assert Path(logs).is_dir() and "logs" in Path(logs).name  # the folder named is this node's log folder
    assert tails == "" or (tails.startswith(("raylet.err: ", "worker-")) and tails.endswith(")"))
    assert not (tmp_path / "o.ffr").exists() and _leftovers(tmp_path) == []
    assert _cpus_back()


class CrashOnLoad(DemoPipeline):
    """The demo pipeline whose actor process exits while loading: Ray restarts it again and again."""

    def load(self) -> None:
        os._exit(3)


def test_actor_dying_while_it_starts_fails_in_bounded_time(cluster, clips, tmp_path):
    t0 = time.monotonic()
    with pytest.raises(ActorStartError) as err:
        run_jobs([Job(clips[0], tmp_path / "o.ffr")], CrashOnLoad(crop_size=64), workers=1, segment_frames=SEG,
                 progress=False, start_timeout_s=4)
    assert time.monotonic() - t0 < 30
    text = str(err.value)
    assert "actor 0 RESTARTING after" in text or "actor 0 PENDING_CREATION after" in text, text
    assert "died while starting or running and Ray keeps restarting it" in text and "worker-*.err" in text
    assert not (tmp_path / "o.ffr").exists() and _leftovers(tmp_path) == []
    assert _cpus_back()


def test_worker_that_cannot_import_ray_fails_with_its_traceback(clips, tmp_path):
    """Workers whose Python finds a broken ray first (a PYTHONPATH of the workers only): Ray's worker
    process dies before it registers and the actor stays pending for ever. Its own cluster, in a child
    process; the error quotes raylet.err, where the worker's traceback went."""
    import subprocess

    site = tmp_path / "site"
    (site / "ray").mkdir(parents=True)
    (site / "ray" / "__init__.py").write_text('raise ImportError("a broken ray on the workers path")\n')
    code = (
        "import sys\n"
        "from ffaccel.distributed import ActorStartError, DemoPipeline, Job, run_jobs\n"
        "try:\n"
        f"    run_jobs([Job({str(clips[0])!r}, {str(tmp_path / 'o.ffr')!r})], DemoPipeline(crop_size=64), workers=1,\n"
        "             progress=False, start_timeout_s=8, ray_init={'num_cpus': 1, 'num_gpus': 0,\n"
        f"             'runtime_env': {{'env_vars': {{'PYTHONPATH': {str(site)!r}}}}}}})\n"
        "except ActorStartError as exc:\n"
        "    print('ERROR', exc)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=240)
    line = next((t for t in out.stdout.splitlines() if t.startswith("ERROR ")), None)
    assert line is not None, out.stdout[-2000:] + out.stderr[-2000:]
    assert "actor 0 PENDING_CREATION" in line and "cannot import ray or ffaccel" in line
    assert "raylet.err: " in line and "ImportError: a broken ray on the workers path" in line
    assert not (tmp_path / "o.ffr").exists()


class Sleeper(DemoPipeline):
    """The demo pipeline whose detector never returns (a stuck device wait, say)."""

    def detect(self, frames, indices, meta):
        time.sleep(3600)


def test_stuck_call_raises_stall_error(cluster, clips, tmp_path):
    t0 = time.monotonic()
    with pytest.raises(StallError) as err:
        run_jobs([Job(clips[0], tmp_path / "o.ffr")], Sleeper(crop_size=64), workers=1, segment_frames=SEG,
                 progress=False, stall_timeout_s=3)
    assert time.monotonic() - t0 < 30
    assert "no call finished and no frame was reported for 3 s" in str(err.value)
    assert "actor 0 ALIVE" in str(err.value) or "actor 0 started" in str(err.value)
    assert _cpus_back()  # the sleeping actor was ended


class RaiseOnLoad(DemoPipeline):
    """The demo pipeline whose load() raises: the actor is dead for good (no restart), and Ray's ActorPool drops it."""

    def load(self) -> None:
        raise OSError("model file missing")


def test_jobs_left_without_a_live_actor_fail_with_an_error(cluster, clips, tmp_path):
    """One actor, two calls queued on it, the third job's call waiting in the pool: both calls fail (the actor
    never started), the pool drops the actor's handles, and the third job must end failed, not unfinished
    (before: ok False with no error)."""
    jobs = [Job(c, tmp_path / f"o{k}.ffr") for k, c in enumerate(clips)]
    results = run_jobs(jobs, RaiseOnLoad(crop_size=64), workers=1, segment_frames=FRAMES, progress=False)
    assert [r.ok for r in results] == [False, False, False]
    assert [r.error_type for r in results] == ["ActorDiedError", "ActorDiedError", "RuntimeError"]
    assert all("model file missing" in r.error for r in results[:2])
    assert results[2].error.startswith("RuntimeError: no live actor was left to run this job's segments")
    assert "the last such error: ActorDiedError: The actor died because of an error raised in its creation task" \
        in results[2].error and "Ray's logs: " in results[2].error
    assert not any((tmp_path / f"o{k}.ffr").exists() for k in range(3)) and _leftovers(tmp_path) == []


def test_watch_notices_while_actors_start(cluster):
    """A line every notice_s while an actor is not up: the user sees why nothing moves."""

    @ray.remote(num_cpus=1, num_gpus=1)
    class NeedsGpu:
        pass

    actor = NeedsGpu.remote()
    time.sleep(1.0)  # registered with Ray's GCS by now: PENDING_CREATION, not DEPENDENCIES_UNREADY
    now = [0.0]
    out = io.StringIO()
    watch = ActorWatch(ray, [("actor 0", actor)], {"CPU": 1, "GPU": 1}, start_timeout_s=10, stall_timeout_s=None,
                       stream=out, notice_s=2, poll_s=0.0, clock=lambda: now[0])
    for t in (1.0, 2.2, 3.0, 4.6):
        now[0] = t
        watch.check()
    assert out.getvalue().splitlines() == [
        "ffaccel.distributed: 0/1 actors started after 2 s; waiting for actor 0 PENDING_CREATION",
        "ffaccel.distributed: 0/1 actors started after 5 s; waiting for actor 0 PENDING_CREATION"]
    now[0] = 10.5
    with pytest.raises(ActorStartError, match="actor 0 PENDING_CREATION"):
        watch.check()
    ray.kill(actor)


def test_watch_started_actor_is_not_late(cluster):
    @ray.remote(num_cpus=0)
    class Quick:
        pass

    actor = Quick.remote()
    now = [0.0]
    watch = ActorWatch(ray, [("actor 0", actor)], {"CPU": 0}, start_timeout_s=5, stall_timeout_s=8,
                       stream=io.StringIO(), poll_s=0.0, clock=lambda: now[0])
    end = time.monotonic() + 30
    while watch.started < 1 and time.monotonic() < end:
        watch.check()
        time.sleep(0.05)
    assert watch.started == 1
    now[0] = 7.0  # past the start bound: no error for a started actor
    watch.check()
    watch.progress()
    now[0] = 14.0  # 7 s since progress: within the stall bound
    watch.check()
    now[0] = 15.5
    with pytest.raises(StallError, match=r"for 8 s \(stall_timeout_s=8\)"):
        watch.check()
    ray.kill(actor)


@pytest.mark.parametrize("name", ["start_timeout_s", "stall_timeout_s"])
@pytest.mark.parametrize("value", [0, -1.0, "10", True])
def test_bad_timeouts(clips, tmp_path, name, value):
    with pytest.raises(ValueError, match=f"{name}: expected a number > 0 or None, got"):
        run_jobs([Job(clips[0], tmp_path / "o.ffr")], DemoPipeline(crop_size=64), **{name: value})
    assert not (tmp_path / "o.ffr").exists()


def test_log_tails_names_each_log_and_keeps_its_last_non_empty_lines(tmp_path):
    assert log_tails(str(tmp_path / "absent")) == "" and log_tails(str(tmp_path)) == ""
    (tmp_path / "raylet.err").write_text("one\n\ntwo\nthree\nfour\nfive\n\n")
    (tmp_path / "worker-a.err").write_text("")  # empty worker logs are passed over
    old = tmp_path / "worker-b.err"
    old.write_text("old failure\n")
    os.utime(old, (1, 1))
    (tmp_path / "worker-c.err").write_text("ImportError: no module named ffaccel\n")
    assert log_tails(str(tmp_path), lines=4) == ("raylet.err: two | three | four | five; "
                                                 "worker-c.err: ImportError: no module named ffaccel")
    # At most `limit` characters of each log: the last 8 of "four | five" and of "...named ffaccel".
    assert log_tails(str(tmp_path), lines=2, limit=8) == "raylet.err: r | five; worker-c.err:  ffaccel"
