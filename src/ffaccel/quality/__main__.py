"""``python -m ffaccel.quality OUTPUT.mp4 [options]``: the quality command stand-alone.

Builds the same parser the ``ffaccel`` command uses (via ``cli.add_parser``); the
leading ``quality`` word is optional here.
"""

from __future__ import annotations

import argparse
import sys

from ffaccel.quality.cli import add_parser


def main(argv: list[str] | None = None) -> int:
    """Parse ``argv`` (default ``sys.argv[1:]``) and run; return the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(prog="python -m ffaccel")
    subparsers = parser.add_subparsers(dest="command", required=True)
    add_parser(subparsers)
    if not argv or argv[0] != "quality":
        argv.insert(0, "quality")
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
