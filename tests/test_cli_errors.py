"""``ffaccel demo`` and ``ffaccel quality`` fail alike (ffaccel/_cli.py): one line, status 2 or 130."""

from __future__ import annotations

from pathlib import Path

import pytest

from ffaccel.cli import main


def _fail_with(monkeypatch: pytest.MonkeyPatch, command: str, exc: BaseException) -> None:
    def raise_it(*args: object, **kwargs: object) -> None:
        raise exc

    monkeypatch.setenv("OPENCV_FFMPEG_LOGLEVEL", "-8")  # `ffaccel quality` sets it if unset: restore it afterwards

    if command == "demo":
        monkeypatch.setattr("ffaccel.demo.runner.run_demo", raise_it)
    else:
        monkeypatch.setattr("ffaccel.quality.cli._run", raise_it)


@pytest.mark.parametrize("command", ["demo", "quality"])
@pytest.mark.parametrize("exc, status, line", [
    (KeyboardInterrupt(), 130, "\nffaccel {command}: interrupted\n"),
    (PermissionError("denied"), 2, "ffaccel {command}: error: cannot write {what}: denied\n"),
])
def test_interrupt_and_unwritable_output(command: str, exc: BaseException, status: int, line: str, tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    _fail_with(monkeypatch, command, exc)
    out = tmp_path / "out"
    argv = ["demo", "--output", str(out)] if command == "demo" else ["quality", str(tmp_path / "in.mp4")]
    assert main(argv) == status
    what = out if command == "demo" else "report"
    assert capsys.readouterr().err == line.format(command=command, what=what)


@pytest.mark.parametrize("command", ["demo", "quality"])
def test_usage_error_is_one_line(command: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    from ffaccel.demo.runner import DemoUsageError

    _fail_with(monkeypatch, command, DemoUsageError("bad value") if command == "demo" else ValueError("bad value"))
    argv = ["demo", "--output", str(tmp_path / "out")] if command == "demo" else ["quality", str(tmp_path / "in.mp4")]
    assert main(argv) == 2
    assert capsys.readouterr().err == f"ffaccel {command}: error: bad value\n"
