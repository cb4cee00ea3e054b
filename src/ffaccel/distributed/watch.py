"""Bounded waits for :func:`~ffaccel.distributed.run_jobs`: actors that never start, restart for ever or stall.

Ray waits without limit for an actor it cannot place (say ``num_gpus`` on a cluster where Ray
found no GPU) and restarts an actor whose process dies while it starts (``max_restarts=-1``)
again and again; the calls queued on such an actor wait with it, and nothing is printed. The
:class:`ActorWatch` turns each of these into an error that names the cause:

- :class:`ActorStartError`: an actor was not running ``start_timeout_s`` seconds after it was
  created or after its process died (pending creation, or restarting).
- :class:`StallError`: no call finished, and no frame was reported, for ``stall_timeout_s``.

Both are :class:`RuntimeError` and say where Ray's logs are (``worker-*.err``, ``raylet.out``).
While actors are still starting, a line every ``notice_s`` seconds says how many are up.

Example (catching them around a run; both are RuntimeErrors):
    >>> from ffaccel.distributed import ActorStartError, StallError, run_jobs
    >>> issubclass(ActorStartError, RuntimeError) and issubclass(StallError, RuntimeError)
    True
    >>> def run_or_explain(jobs, pipeline):
    ...     try:
    ...         return run_jobs(jobs, pipeline, start_timeout_s=120)
    ...     except (ActorStartError, StallError) as exc:
    ...         raise SystemExit(f"cluster problem: {exc}") from exc
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any, TextIO

__all__ = ["ActorStartError", "StallError", "ActorWatch", "ray_logs_dir", "log_tails"]

#: Ray's actor states in which its calls cannot run (yet)
_NOT_RUNNING = ("DEPENDENCIES_UNREADY", "PENDING_CREATION", "RESTARTING")


class ActorStartError(RuntimeError):
    """An actor of :func:`~ffaccel.distributed.run_jobs` did not start (or restart) in time."""


class StallError(RuntimeError):
    """:func:`~ffaccel.distributed.run_jobs` saw no call finish and no frame done for too long."""


def ray_logs_dir(ray: Any) -> str:
    """The folder of this node's Ray logs (``worker-*.err``, ``raylet.out``), or Ray's default pattern."""
    try:
        return str(ray._private.worker._global_node.get_logs_dir_path())
    except Exception:  # noqa: BLE001 - a Ray without the attribute, or a client connection
        return "session_latest/logs in Ray's temp folder, on each node"


def log_tails(folder: str, lines: int = 4, limit: int = 600) -> str:
    """The last lines of ``raylet.err`` (a worker process that failed before it could start: Python,
    imports) and of the newest non-empty ``worker-*.err`` in a local Ray log folder; "" if none."""
    from pathlib import Path

    logs = Path(folder)
    if not logs.is_dir():
        return ""
    workers = sorted((p for p in logs.glob("worker-*.err") if p.stat().st_size), key=lambda p: p.stat().st_mtime)
    out = []
    for path in [logs / "raylet.err", *workers[-1:]]:
        try:
            with open(path, "rb") as f:
                f.seek(max(f.seek(0, 2) - 8192, 0))
                text = f.read().decode("utf-8", "replace")
        except OSError:
            continue
        tail = [t.strip() for t in text.splitlines() if t.strip()][-lines:]
        if tail:
            out.append(f"{path.name}: " + " | ".join(tail)[-limit:])
    return "; ".join(out)


def _actor_state(ray: Any, actor: Any) -> tuple[str, int] | None:
    """(state, restarts) of an actor from Ray's GCS, or None where Ray does not tell."""
    try:
        from ray._private import state

        info = state.actors(actor._actor_id.hex())
        return str(info["State"]), int(info.get("NumRestarts", 0))
    except Exception:  # noqa: BLE001 - a private API: without it, only the readiness calls and the stall bound
        return None


class ActorWatch:
    """Watches the actors of one :func:`run_jobs` call; :meth:`check` raises when a wait must end.

    Args:
        ray: the ``ray`` module.
        actors: (label, handle) pairs, made just before: a readiness call (Ray's ``__ray_ready__``)
            is queued on each here, before any work, so that its result means "constructed".
        request: resources one actor asks for (Ray's names, e.g. ``{"CPU": 1, "GPU": 1.0}``).
        start_timeout_s: seconds an actor may be pending or restarting; None: no limit.
        stall_timeout_s: seconds without :meth:`progress`; None: no limit.
        stream: where the "actors starting" notices go (stderr if None).
        notice_s: seconds between those notices (the first after ``notice_s``).
        poll_s: seconds between state queries to Ray's GCS.
        clock: monotonic seconds (tests pass their own).
        helpers: (label, handle) pairs watched alike but not counted in :attr:`started` (the progress actor).
    """

    def __init__(self, ray: Any, actors: Sequence[tuple[str, Any]], request: dict[str, float],
                 start_timeout_s: float | None, stall_timeout_s: float | None, stream: TextIO | None = None,
                 notice_s: float = 30.0, poll_s: float = 2.0, clock: Callable[[], float] = time.monotonic,
                 helpers: Sequence[tuple[str, Any]] = ()) -> None:
        for name, value in (("start_timeout_s", start_timeout_s), ("stall_timeout_s", stall_timeout_s)):
            if value is not None and not value > 0:
                raise ValueError(f"{name}: expected a number > 0 or None, got {value!r}")
        self.ray, self.request, self.stream = ray, dict(request), stream
        self.start_timeout_s, self.stall_timeout_s = start_timeout_s, stall_timeout_s
        self.labels = [name for name, _ in [*actors, *helpers]]
        self.handles = [a for _, a in [*actors, *helpers]]
        self.workers = len(actors)
        self.notice_s, self.poll_s, self.clock = notice_s, poll_s, clock
        now = clock()
        self._ready = {a.__ray_ready__.remote(): k for k, a in enumerate(self.handles)}
        self._down_since: dict[int, float] = dict.fromkeys(range(len(self.handles)), now)
        self._states: dict[int, tuple[str, int]] = {}
        self._started: set[int] = set()
        self._last_progress = now
        self._next_poll = now + poll_s
        self._next_notice = now + notice_s

    @property
    def started(self) -> int:
        """Actors (helpers not counted) whose constructor has finished at least once."""
        return sum(1 for k in self._started if k < self.workers)

    def progress(self) -> None:
        """Something finished (a call, or frames reported): the stall clock starts again."""
        self._last_progress = self.clock()

    def check(self) -> None:
        """Update what is known; raise :class:`ActorStartError` or :class:`StallError` when a bound is passed."""
        now = self.clock()
        if self._ready:
            done, _ = self.ray.wait(list(self._ready), num_returns=len(self._ready), timeout=0)
            for ref in done:
                k = self._ready.pop(ref)
                self._down_since.pop(k, None)
                try:
                    self.ray.get(ref)
                    self._started.add(k)
                except Exception:  # noqa: BLE001 - its constructor raised: the actor is dead, its calls fail alone
                    self._states[k] = ("DEAD", 0)
        if now >= self._next_poll:
            self._next_poll = now + self.poll_s
            self._poll(now)
        late = [k for k, t in self._down_since.items() if self.start_timeout_s is not None
                and now - t > self.start_timeout_s]
        if late:
            raise ActorStartError(self._start_message(late, now))
        if self.stall_timeout_s is not None and now - self._last_progress > self.stall_timeout_s:
            raise StallError(f"run_jobs: no call finished and no frame was reported for "
                             f"{now - self._last_progress:.0f} s (stall_timeout_s={self.stall_timeout_s:g}); "
                             f"actors: {self.describe()}. A pipeline call may be stuck (a lock, a device "
                             f"wait) or far slower than expected; Ray's logs: {ray_logs_dir(self.ray)} "
                             "(worker-*.err: each actor's stderr)")
        if self._down_since and now >= self._next_notice:
            self._next_notice = now + self.notice_s
            self._write(f"ffaccel.distributed: {self.started}/{self.workers} actors started after "
                        f"{now - min(self._down_since.values()):.0f} s; waiting for {self.describe(down_only=True)}")

    def _poll(self, now: float) -> None:
        for k, handle in enumerate(self.handles):
            if self._states.get(k, ("",))[0] == "DEAD":
                continue
            got = _actor_state(self.ray, handle)
            if got is None:
                continue
            self._states[k] = got
            if got[0] in _NOT_RUNNING:
                self._down_since.setdefault(k, now)
            else:  # alive (constructed, again) or dead: its calls run or fail, nothing waits on it
                self._down_since.pop(k, None)

    def describe(self, down_only: bool = False) -> str:
        """One phrase per actor: label, state (as Ray names it) and restarts."""
        parts = []
        for k, label in enumerate(self.labels):
            if down_only and k not in self._down_since:
                continue
            state, restarts = self._states.get(k, ("started" if k in self._started else "not started", 0))
            parts.append(f"{label} {state}" + (f" after {restarts} restarts" if restarts else ""))
        return ", ".join(parts) or "none"

    def _start_message(self, late: list[int], now: float) -> str:
        self._poll(now)
        restarting = [k for k in late if self._states.get(k, ("", 0))[1] > 0 or
                      self._states.get(k, ("",))[0] == "RESTARTING"]
        try:
            total, free = self.ray.cluster_resources(), self.ray.available_resources()
            nodes = [n.get("Resources", {}) for n in self.ray.nodes() if n.get("Alive")]
        except Exception:  # noqa: BLE001 - the message goes out without them
            total, free, nodes = {}, {}, []
        fits = any(all(res.get(key, 0.0) >= need for key, need in self.request.items()) for res in nodes)
        causes = []
        if restarting:
            causes.append("the process of " + ", ".join(self.labels[k] for k in restarting) + " died while "
                          "starting or running and Ray keeps restarting it (pipeline.load(), an import, a crash, "
                          "the memory limit): its output is in worker-*.err and worker-*.out")
        if nodes and not fits:
            short = sorted(key for key in self.request if not any(res.get(key, 0.0) >= self.request[key]
                                                                  for res in nodes))
            causes.append(f"no node of the cluster has {', '.join(f'{k}={self.request[k]:g}' for k in short)} "
                          "for one actor, and Ray waits for one without end (a GPU Ray did not detect: pass "
                          "num_gpus to ray.init, or run with gpus=False; or ask for fewer CPUs a worker)")
        if not causes:
            causes.append("the resources are held by other actors or tasks, or the worker process cannot start "
                          "(its Python cannot import ray or ffaccel: ray.init's runtime_env or PYTHONPATH; "
                          "see raylet.err and worker-*.err)")
        logs = ray_logs_dir(self.ray)
        tails = log_tails(logs)
        return (f"run_jobs: {len(late)} of {len(self.handles)} actors not running after "
                f"{self.start_timeout_s:g} s (start_timeout_s): {self.describe(down_only=True)}. Each asks for "
                f"{_fmt(self.request)}; the cluster has {_fmt(total)}, free {_fmt(free)}. Likely cause: "
                f"{'; '.join(causes)}. Ray's logs: {logs}" + (f" (last lines: {tails})" if tails else ""))

    def _write(self, line: str) -> None:
        import sys

        stream = self.stream if self.stream is not None else sys.stderr
        stream.write(line + "\n")
        stream.flush()


def _fmt(resources: dict[str, float]) -> str:
    keys = [k for k in ("CPU", "GPU") if k in resources] + sorted(
        k for k in resources if k not in ("CPU", "GPU") and not k.startswith(("node:", "memory",
                                                                                "object_store_memory")))
    return "{" + ", ".join(f"{k}: {resources[k]:g}" for k in keys) + "}"
