"""What the ``ffaccel`` subcommands share: exit statuses and the one-line error.

``ffaccel demo`` and ``ffaccel quality`` fail the same way: one line on stderr,
``ffaccel COMMAND: error: ...``, and exit status 2 for bad input, a missing optional
dependency or a file that cannot be written; ``ffaccel COMMAND: interrupted`` and 130
on Ctrl-C. Each command catches its own usage errors (plus ``OSError`` and
``KeyboardInterrupt``) and hands the exception to :func:`exit_status`.
"""

from __future__ import annotations

import sys

__all__ = ["EXIT_BAD_INPUT", "EXIT_INTERRUPTED", "EXIT_OK", "exit_status"]

EXIT_OK = 0
EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130  # the shell's convention for SIGINT


def exit_status(exc: BaseException, command: str, os_error: str) -> int:
    """Print the one line that ``exc`` deserves and return the command's exit status.

    Args:
        exc: what the command caught: ``KeyboardInterrupt``, an ``OSError`` (a file that
            could not be written) or one of the command's own usage errors.
        command: the subcommand's name, e.g. ``"quality"``.
        os_error: what an ``OSError`` means here, e.g. ``"cannot write report"``; the
            error's own text follows it.

    Example:
        >>> import contextlib, io
        >>> with contextlib.redirect_stderr(io.StringIO()) as err:
        ...     status = exit_status(ValueError("--stride must be >= 1"), "quality", "cannot write report")
        >>> status, err.getvalue()
        (2, 'ffaccel quality: error: --stride must be >= 1\\n')
    """
    if isinstance(exc, KeyboardInterrupt):
        print(f"\nffaccel {command}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    prefix = f"{os_error}: " if isinstance(exc, OSError) else ""
    print(f"ffaccel {command}: error: {prefix}{exc}", file=sys.stderr)
    return EXIT_BAD_INPUT
