"""ffaccel.distributed.progress: the board counts a retried segment once; the view draws a bar per job."""

from __future__ import annotations

import io

from ffaccel.distributed.progress import JobProgress, ProgressBoard, ProgressView


def test_board_keeps_each_segments_highest_count():
    b = ProgressBoard()
    b.report(0, 2, 0, 4)
    b.report(0, 2, 0, 8)
    b.report(0, 2, 0, 4)  # the segment's actor died and the retry starts again: not counted twice
    b.report(0, 2, 1, 3)
    b.report(1, 1, 0, 5)
    assert b.totals() == {(0, 2): 11, (1, 1): 5}


def test_view_draws_one_line_per_job_and_the_rate():
    jobs = [JobProgress("a.ffr", frames=10, detected=10, swapped=5, state="running"), JobProgress("b.ffr")]
    out = io.StringIO()
    view = ProgressView(jobs, out, interval_s=0)
    view.draw(force=True)
    lines = out.getvalue().splitlines()
    assert len(lines) == 3
    assert lines[0].startswith("a.ffr") and "[##################------]" in lines[0]  # 15 of 20 steps
    assert "detect 10/10 swap 5/10 running" in lines[0] and "queued" in lines[1]
    assert lines[2].startswith("cluster: 5 frames out,") and lines[2].endswith("frames/s")
    quiet = io.StringIO()
    ProgressView(jobs, quiet, enabled=False).draw(force=True)
    assert quiet.getvalue() == ""


def test_view_cluster_line_carries_the_actor_note():
    out = io.StringIO()
    view = ProgressView([JobProgress("a.ffr", frames=4)], out, interval_s=0)
    view.actors = "actors 2/3 started"
    view.draw(force=True)
    assert out.getvalue().splitlines()[-1].endswith("frames/s, actors 2/3 started")
