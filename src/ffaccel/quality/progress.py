"""A tiny text progress bar on stderr (no dependency)."""

from __future__ import annotations

import sys
import time
from typing import TextIO

__all__ = ["ProgressBar"]


class ProgressBar:
    """Redraws one stderr line at most every ``interval_s`` seconds.

    Args:
        total: expected number of steps, or 0 when unknown (then only a count is shown).
        label: text before the bar.
        stream: where to draw; stderr by default.
        enabled: False makes every call a no-op.
        interval_s: minimum seconds between redraws.

    Example:
        >>> import io
        >>> out = io.StringIO()
        >>> bar = ProgressBar(4, stream=out, interval_s=0)
        >>> for _ in range(4):
        ...     bar.advance()
        >>> bar.close()
        >>> "4/4" in out.getvalue() and out.getvalue().endswith("\\n")
        True
    """

    width = 28

    def __init__(
        self,
        total: int,
        label: str = "frames",
        stream: TextIO | None = None,
        enabled: bool = True,
        interval_s: float = 0.2,
    ) -> None:
        self.total = max(int(total), 0)
        self.label = label
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = enabled
        self.interval_s = interval_s
        self.count = 0
        self._start = time.perf_counter()
        self._last_draw = -float("inf")

    def advance(self, steps: int = 1) -> None:
        """Count ``steps`` more and redraw if the interval has passed."""
        self.count += steps
        now = time.perf_counter()
        if self.enabled and now - self._last_draw >= self.interval_s:
            self._last_draw = now
            self._draw(now)

    def _draw(self, now: float) -> None:
        elapsed = max(now - self._start, 1e-9)
        rate = self.count / elapsed
        if self.total:
            done = min(self.count / self.total, 1.0)
            filled = int(done * self.width)
            bar = "#" * filled + "." * (self.width - filled)
            text = f"\r{self.label} [{bar}] {done:4.0%} {self.count}/{self.total} {rate:6.1f} fps"
        else:
            text = f"\r{self.label} {self.count} {rate:6.1f} fps"
        self.stream.write(text)
        self.stream.flush()

    def close(self) -> None:
        """Draw the final state and end the line."""
        if self.enabled:
            self._draw(time.perf_counter())
            self.stream.write("\n")
            self.stream.flush()
