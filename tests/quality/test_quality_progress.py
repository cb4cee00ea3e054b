"""The stderr progress bar."""

from __future__ import annotations

import io

from ffaccel.quality.progress import ProgressBar


def test_bar_draws_counts_and_ends_the_line():
    out = io.StringIO()
    bar = ProgressBar(10, stream=out, interval_s=0)
    for _ in range(5):
        bar.advance()
    assert "5/10" in out.getvalue() and "[" + "#" * 14 + "." * 14 + "]" in out.getvalue()
    for _ in range(5):
        bar.advance()
    bar.close()
    text = out.getvalue()
    assert "100% 10/10" in text and text.endswith("\n") and "\n" not in text[:-1]


def test_unknown_total_shows_a_count():
    out = io.StringIO()
    bar = ProgressBar(0, label="frames", stream=out, interval_s=0)
    bar.advance(3)
    bar.close()
    assert "frames 3 " in out.getvalue() and "[" not in out.getvalue()


def test_redraws_are_throttled_and_disabled_bar_is_silent():
    out = io.StringIO()
    bar = ProgressBar(1000, stream=out, interval_s=3600)
    for _ in range(1000):
        bar.advance()
    assert out.getvalue().count("\r") == 1  # only the first draw within the hour
    silent = io.StringIO()
    quiet = ProgressBar(5, stream=silent, enabled=False)
    quiet.advance()
    quiet.close()
    assert silent.getvalue() == ""
