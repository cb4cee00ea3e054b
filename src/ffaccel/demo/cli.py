"""The ``ffaccel demo`` command: a whole face-swap pipeline on a bundled default clip.

Exit status: 0 on success; 2 on bad options, a missing dependency or an unusable
device (one line on stderr, ``ffaccel demo: error: ...``); 130 on Ctrl-C.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import Any

from ffaccel._cli import EXIT_BAD_INPUT, EXIT_OK, exit_status

__all__ = ["add_parser", "run", "parse_resolution"]

_NAMED = {"2160p": (3840, 2160), "4k": (3840, 2160), "1440p": (2560, 1440), "1080p": (1920, 1080),
          "720p": (1280, 720), "540p": (960, 540), "480p": (854, 480), "360p": (640, 360), "240p": (426, 240)}
MAX_FRAMES = 100_000


def parse_resolution(text: str) -> tuple[int, int]:
    """``1080p``, ``720p``, ... or ``WxH`` (even sides, 64..7680 x 64..4320) -> (width, height)."""
    key = text.strip().lower()
    if key in _NAMED:
        return _NAMED[key]
    match = re.fullmatch(r"(\d+)x(\d+)", key)
    if not match:
        raise argparse.ArgumentTypeError(
            f"expected WxH (e.g. 1280x720) or one of {', '.join(_NAMED)}, got {text!r}")
    w, h = int(match.group(1)), int(match.group(2))
    if not (64 <= w <= 7680 and 64 <= h <= 4320):
        raise argparse.ArgumentTypeError(f"size must be 64..7680 x 64..4320, got {text!r}")
    if w % 2 or h % 2:
        raise argparse.ArgumentTypeError(f"width and height must be even (video encoders need it), got {text!r}")
    return w, h


def _frames(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if not 3 <= value <= MAX_FRAMES:
        raise argparse.ArgumentTypeError(f"must be 3..{MAX_FRAMES}, got {value}")
    return value


class _OneLineParser(argparse.ArgumentParser):
    """Bad options: one clear line on stderr and exit status 2 (no usage dump)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(EXIT_BAD_INPUT, f"ffaccel demo: error: {message} (see ffaccel demo --help)\n")

    def parse_known_args(  # type: ignore[override]
        self, args: Any = None, namespace: Any = None
    ) -> tuple[argparse.Namespace, list[str]]:
        # Unknown options would otherwise reach the top-level parser (usage dump + error).
        parsed, extras = super().parse_known_args(args, namespace)
        if extras:
            self.error(f"unrecognized arguments: {' '.join(extras)}")
        return parsed, extras


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register the ``demo`` subcommand (``set_defaults(func=run)``)."""
    default_class = subparsers._parser_class
    subparsers._parser_class = _OneLineParser  # bad values: one line, not a usage dump
    try:
        parser = subparsers.add_parser(
            "demo",
            help="run a whole face-swap pipeline on a bundled clip and show what ffaccel changes",
            description=(
                "Generate a clip from two public-domain face photos that ship inside ffaccel (no "
                "downloads), swap the face with a FaceFusion-style numpy/cv2 pipeline (needs OpenCV), with "
                "ffaccel on the CPU and with ffaccel on CUDA when a GPU is usable, each with and without "
                "landmark stabilisation, and write the swapped video and a comparison video (PNG stills "
                "without OpenCV), quality reports against ground truth and a timing table into one folder. "
                "Needs numpy only; OpenCV and matplotlib add the rest. See docs/demo.md."
            ),
        )
    finally:
        subparsers._parser_class = default_class
    parser.add_argument("--frames", type=_frames, default=150, metavar="N", help="clip length in frames (default 150)")
    parser.add_argument("--resolution", type=parse_resolution, default=(1920, 1080), metavar="RES",
                        help="frame size: 1080p, 720p, ... or WxH (default 1080p)")
    parser.add_argument("--device", choices=("cpu", "cuda", "auto"), default="auto",
                        help="auto (default): add the CUDA path when a GPU is usable; cuda: require it; cpu: skip it")
    parser.add_argument("--output", type=Path, default=Path("ffaccel-demo"), metavar="DIR",
                        help="output folder, created if needed; the files of an earlier demo run there are removed first, "
                             "other files are kept (default ./ffaccel-demo)")
    parser.add_argument("--no-video", action="store_true", help="do not write the two mp4 files (the PNG stills without OpenCV)")
    parser.add_argument("--crop-size", type=int, choices=(128, 256, 512), default=512,
                        help="face crop side in pixels (default 512)")
    parser.add_argument("--no-color-transfer", action="store_true",
                        help="paste the source face without matching its colour to the target")
    parser.add_argument("--no-progress", action="store_true", help="do not draw the progress bar")
    parser.set_defaults(func=run)


def agreement_lines(agreement: dict | None, frames: int) -> list[str]:
    """Console verdict of quality.json's ``paths_agree_with_facefusion``: one line per path.

    Example:
        >>> agreement_lines({"ffaccel-cpu": {"max_abs_diff": 0, "differing_values": 0, "identical_frames": 24}}, 12)
        ['agreement: ffaccel-cpu is byte-identical to the FaceFusion-style path (24 of 24 frames)']
    """
    if agreement is None:
        return ["agreement: not checked (the FaceFusion-style path needs OpenCV)"]
    lines = []
    for name, a in agreement.items():
        total = 2 * frames  # raw and stabilised variants
        if a["differing_values"] == 0:
            lines.append(f"agreement: {name} is byte-identical to the FaceFusion-style path "
                         f"({a['identical_frames']} of {total} frames)")
        else:
            lines.append(f"agreement: {name} DIFFERS from the FaceFusion-style path: {a['differing_values']} values, "
                         f"max difference {a['max_abs_diff']}, {a['identical_frames']} of {total} frames identical")
    return lines


def run(args: argparse.Namespace) -> int:
    """Execute ``ffaccel demo``; return the exit status."""
    from ffaccel.demo import DemoDependencyError
    from ffaccel.demo.runner import DemoOptions, DemoUsageError, run_demo

    if args.output.exists() and not args.output.is_dir():
        print(f"ffaccel demo: error: --output {args.output} exists and is not a folder", file=sys.stderr)
        return EXIT_BAD_INPUT
    width, height = args.resolution
    options = DemoOptions(frames=args.frames, width=width, height=height, device=args.device, output=args.output,
                          video=not args.no_video, crop_size=args.crop_size,
                          color_transfer=not args.no_color_transfer, progress=not args.no_progress)
    try:
        result = run_demo(options)
    except (DemoDependencyError, DemoUsageError, OSError, KeyboardInterrupt) as exc:
        return exit_status(exc, "demo", f"cannot write {args.output}")

    from ffaccel.demo.report import format_quality_lines

    print(f"ffaccel demo: {options.frames} frames at {width}x{height}, crop {options.crop_size}; {result.device_note}")
    for note in result.notes:
        print(f"note: {note}")
    print()
    if result.quality.get("paths_agree_with_facefusion") is not None:
        print("Median ms per face; speed-up against the FaceFusion-style path:")
    else:
        print("Median ms per face:")
    print(result.timing_table)
    print()
    for line in format_quality_lines(result.quality):
        print(line)
    verdict = "reduced" if result.quality["stabilisation"]["reduced_jitter"] else "did NOT reduce"
    print(f"stabilisation {verdict} jitter against ground truth")
    for line in agreement_lines(result.quality.get("paths_agree_with_facefusion"), options.frames):
        print(line)
    print()
    print(f"finished in {result.wall_s:.1f} s; artefacts in {result.output.resolve()}/:")
    for name in sorted({p.name for p in result.artefacts.values()}):
        print(f"  {name}")
    return EXIT_OK
