"""Cluster-wide progress: workers report per segment, the driver draws one bar per job and frames/s."""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from typing import TextIO

__all__ = ["JobProgress", "ProgressBoard", "ProgressView"]


@dataclass
class JobProgress:
    """Where one job stands.

    Attributes:
        name: the job's label (its input file name).
        frames: frames in the video (0 until it is opened).
        detected, swapped: frames done in pass 1 (detect) and pass 2 (swap and write).
        state: ``"queued"``, ``"running"``, ``"done"`` or ``"failed"``.
    """

    name: str
    frames: int = 0
    detected: int = 0
    swapped: int = 0
    state: str = "queued"


class ProgressBoard:
    """Frames done per (job, pass, segment), reported by the workers (a Ray actor with no CPU).

    A retried segment reports from zero again; the board keeps each segment's highest
    count, so retries never count a frame twice.
    """

    def __init__(self) -> None:
        self._done: dict[tuple[int, int, int], int] = {}

    def report(self, job: int, stage: int, segment: int, frames: int) -> None:
        key = (job, stage, segment)
        self._done[key] = max(self._done.get(key, 0), int(frames))

    def totals(self) -> dict[tuple[int, int], int]:
        """(job, pass) -> frames done."""
        out: dict[tuple[int, int], int] = {}
        for (job, stage, _), n in self._done.items():
            out[(job, stage)] = out.get((job, stage), 0) + n
        return out


class ProgressView:
    """Draws one bar per job and the cluster's frames/s (pass 2) on a stream.

    On a terminal the block is redrawn in place at most every ``interval_s``; otherwise a
    block is appended at most every ``interval_s`` (and once at the end).
    """

    width = 24

    def __init__(self, jobs: list[JobProgress], stream: TextIO | None = None, enabled: bool = True,
                 interval_s: float = 0.5) -> None:
        self.jobs = jobs
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = enabled
        self.interval_s = interval_s if self._tty() else max(interval_s, 10.0)
        self.actors: str | None = None  # a note for the cluster line, e.g. "actors 3/4 started"
        self._start = time.perf_counter()
        self._last = -float("inf")
        self._lines = 0

    def _tty(self) -> bool:
        try:
            return bool(self.stream.isatty())
        except (AttributeError, ValueError):
            return False

    def frames_per_s(self) -> float:
        """Output frames (pass 2) per second of wall time since the view was made."""
        done = sum(j.swapped for j in self.jobs)
        return done / max(time.perf_counter() - self._start, 1e-9)

    def lines(self) -> list[str]:
        out = []
        for j in self.jobs:
            total = max(j.frames, 1)
            frac = (j.detected + j.swapped) / (2 * total) if j.frames else 0.0
            fill = int(round(frac * self.width))
            bar = "#" * fill + "-" * (self.width - fill)
            out.append(f"{j.name[:28]:<28} [{bar}] detect {j.detected}/{j.frames} swap {j.swapped}/{j.frames} "
                       f"{j.state}")
        out.append(f"cluster: {sum(j.swapped for j in self.jobs)} frames out, {self.frames_per_s():.1f} frames/s"
                   + (f", {self.actors}" if self.actors else ""))
        return out

    def due(self) -> bool:
        """True when :meth:`draw` would draw now (enabled, and its interval has passed)."""
        return self.enabled and time.perf_counter() - self._last >= self.interval_s

    def draw(self, force: bool = False) -> None:
        if not self.enabled:
            return
        now = time.perf_counter()
        if not force and now - self._last < self.interval_s:
            return
        self._last = now
        text = self.lines()
        if self._tty() and self._lines:
            self.stream.write(f"\x1b[{self._lines}F")
        self.stream.write("".join(line + "\x1b[K\n" if self._tty() else line + "\n" for line in text))
        self.stream.flush()
        self._lines = len(text)
