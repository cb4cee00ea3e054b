"""The ``ffaccel quality`` command: measure a video's temporal stability, stream by stream.

``add_parser`` registers the subcommand on the top-level ``ffaccel`` parser; ``run``
executes it. ``python -m ffaccel.quality OUTPUT.mp4 ...`` runs it stand-alone.
Exit status: 0 on success, 2 on bad usage or bad input (one line on stderr).
"""

from __future__ import annotations

import argparse
import functools
import itertools
import os
from typing import Any

from ffaccel._cli import EXIT_OK, exit_status

__all__ = ["add_parser", "format_summary_table", "run"]

_ENDED = object()  # fill value marking a stream that ran out before the other


def _region(text: str) -> tuple[int, int, int, int]:
    try:
        x, y, w, h = (int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected x,y,w,h as four integers, got {text!r}") from None
    if w <= 0 or h <= 0 or x < 0 or y < 0:
        raise argparse.ArgumentTypeError(f"need x,y >= 0 and w,h > 0, got {text!r}")
    return x, y, w, h


def _crop(text: str) -> tuple[int, int] | None:
    if text.lower() in ("full", "none"):
        return None
    try:
        w, h = (int(part) for part in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected WxH (e.g. 640x640) or 'full', got {text!r}") from None
    if w <= 0 or h <= 0:
        raise argparse.ArgumentTypeError(f"crop sides must be > 0, got {text!r}")
    return w, h


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {text}")
    return value


def _non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {text}")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a finite number > 0, got {text}")
    return value


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register the ``quality`` subcommand (``set_defaults(func=run)``)."""
    parser = subparsers.add_parser(
        "quality",
        help="temporal PSNR, jitter, colour and edge stability of a video",
        description=(
            "Measure temporal stability of OUTPUT: tPSNR between consecutive frames on a "
            "centre crop (or a region), jitter events, mean-Lab colour drift and Laplacian "
            "sharpness. With --reference, report ΔtPSNR = output - reference per frame so "
            "real motion is not counted as jitter. Streams the video (constant memory)."
        ),
    )
    parser.add_argument("output", metavar="OUTPUT", help="video to measure (e.g. the swapped result)")
    parser.add_argument("--reference", metavar="TARGET", help="the unswapped target video, for relative mode")
    parser.add_argument("--region", type=_region, metavar="x,y,w,h", help="measure this box instead of the centre crop")
    parser.add_argument("--crop", type=_crop, default=(640, 640), metavar="WxH",
                        help="centre crop size, or 'full' for the whole frame (default 640x640)")
    parser.add_argument("--stride", type=_positive_int, default=2, help="measure every N-th frame (default 2)")
    parser.add_argument("--threshold", type=_positive_float, default=3.0, metavar="DB",
                        help="jitter event: a drop of more than DB below the running mean of 5 (default 3.0)")
    parser.add_argument("--tail-frames", type=_non_negative_int, default=30, metavar="N",
                        help="events in the last N frames count as tail spikes (default 30)")
    parser.add_argument("--json", metavar="R.json", help="write the JSON report here")
    parser.add_argument("--plot", metavar="R.png", help="write the tPSNR plot here (needs matplotlib)")
    parser.add_argument("--html", metavar="R.html", help="write the HTML summary page here (needs matplotlib)")
    parser.add_argument("--no-progress", action="store_true", help="do not draw the progress bar")
    parser.set_defaults(func=run)


def _fmt(value: Any, unit: str = "", digits: int = 3) -> str:
    if value is None:
        return "n/a"
    return f"{value:.{digits}f}{unit}"


def _frames_list(frames: list[int]) -> str:
    if not frames:
        return ""
    shown = ", ".join(str(f) for f in frames[:10])
    return f" (frame {shown}{', ...' if len(frames) > 10 else ''})"


def format_summary_table(summary: dict[str, Any]) -> str:
    """The summary as an aligned two-column text table."""
    rows = [
        ("frames read", f"{summary['frames']} ({summary['samples']} pairs measured)"),
        ("mean tPSNR", _fmt(summary["mean_tpsnr"], " dB")),
        ("std tPSNR", _fmt(summary["std_tpsnr"], " dB")),
        ("min tPSNR", _fmt(summary["min_tpsnr"], " dB")
         + ("" if summary["min_tpsnr_frame"] is None else f" (frame {summary['min_tpsnr_frame']})")),
        ("identical pairs", f"{summary['identical_pairs']} (infinite PSNR, left out of the statistics)"),
        (f"jitter events [{summary['jitter_basis']}]",
         f"{summary['jitter_events']}{_frames_list(summary['jitter_event_frames'])}"),
        ("tail spikes", f"{summary['tail_spikes']}{_frames_list(summary['tail_spike_frames'])}"),
        ("negative outliers", f"{summary['negative_outliers']}{_frames_list(summary['negative_outlier_frames'])}"),
        ("colour drift (ΔE76)", f"mean {_fmt(summary['mean_color_drift'])}, max {_fmt(summary['max_color_drift'])}"),
        ("sharpness (Lap. var)",
         f"mean {_fmt(summary['mean_sharpness'], digits=1)}, last/first {_fmt(summary['sharpness_change'])}"),
    ]
    if "mean_delta_tpsnr" in summary:
        rows += [
            ("mean reference tPSNR", _fmt(summary["mean_reference_tpsnr"], " dB")),
            ("mean ΔtPSNR", _fmt(summary["mean_delta_tpsnr"], " dB")),
            ("min ΔtPSNR", _fmt(summary["min_delta_tpsnr"], " dB")),
            ("verdict", summary["verdict"]),
        ]
    width = max(len(label) for label, _ in rows)
    return "\n".join(f"  {label:<{width}}  {value}" for label, value in rows)


def run(args: argparse.Namespace) -> int:
    """Execute ``ffaccel quality``; return the exit status (0 ok, 2 bad input, 130 Ctrl-C)."""
    from ffaccel.quality.video import VideoError

    # FFmpeg prints its own lines for a broken file ("moov atom not found"), which
    # would break the one-line error; the command reports decode failures itself.
    # OpenCV reads this once, at its first capture, so a user's own value wins.
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")
    try:
        return _run(args)
    except (VideoError, ValueError, ModuleNotFoundError, OSError, KeyboardInterrupt) as exc:
        return exit_status(exc, "quality", "cannot write report")


def _run(args: argparse.Namespace) -> int:
    from ffaccel.quality.monitor import QualityMonitor, frame_needed
    from ffaccel.quality.progress import ProgressBar
    from ffaccel.quality.report import _pyplot, write_html, write_json, write_plot
    from ffaccel.quality.video import VideoError, VideoReader, check_same_geometry, prefetch_frames, probe

    info = probe(args.output, "output")
    ref_info = None
    if args.reference is not None:
        ref_info = probe(args.reference, "reference")
        check_same_geometry(info, ref_info)
    if args.region is not None:
        x, y, _, _ = args.region
        if x >= info.width or y >= info.height:
            raise ValueError(f"--region {args.region} starts outside the {info.width}x{info.height} frame")
    if args.plot or args.html:
        _pyplot()  # fail now, not after a long video, when matplotlib is missing

    monitor = QualityMonitor(crop=args.crop, stride=args.stride, jitter_threshold_db=args.threshold,
                             tail_frames=args.tail_frames, region=args.region)
    bar = ProgressBar(info.frame_count, enabled=not args.no_progress)
    readers = [VideoReader(args.output, "output")]
    if args.reference is not None:
        readers.append(VideoReader(args.reference, "reference"))
    needed = functools.partial(frame_needed, stride=args.stride)
    streams = [prefetch_frames(reader, needed) for reader in readers]
    try:
        for frames in itertools.zip_longest(*streams, fillvalue=_ENDED):
            if any(frame is _ENDED for frame in frames):
                ended = readers[next(i for i, f in enumerate(frames) if f is _ENDED)].role
                raise VideoError(f"frame count mismatch: {ended} video ended after "
                                 f"{monitor.frames_seen} frames while the other goes on")
            if frames[0] is None:  # not needed by the monitor: decoded but not converted
                monitor.skip()
            else:
                monitor.update(frames[0], reference=frames[1] if len(frames) > 1 else None)
            bar.advance()
    finally:
        bar.close()
        for stream in streams:
            stream.close()
        for reader in readers:
            reader.close()

    source = {"output": str(args.output), "width": info.width, "height": info.height, "fps": info.fps}
    if ref_info is not None:
        source["reference"] = str(args.reference)
    summary = monitor.summary()
    where = "full frame" if args.crop is None else f"centre crop {args.crop[0]}x{args.crop[1]}"
    if args.region:
        where = f"region {args.region}"
    if monitor.samples:
        where += f", measured box x,y,w,h = {monitor.samples[0].box}"
    print(f"ffaccel quality: {args.output} ({info.width}x{info.height}, stride {args.stride}, {where})")
    print(format_summary_table(summary))
    if args.json:
        write_json(monitor, args.json, source)
    if args.plot:
        write_plot(monitor, args.plot)
    if args.html:
        write_html(monitor, args.html, source)
    return EXIT_OK
