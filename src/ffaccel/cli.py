"""The ``ffaccel`` command: ``ffaccel info`` and the subcommands of the other modules."""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from collections.abc import Sequence
from typing import Any

# Subcommands that live with their module: each provides add_parser(subparsers).
_PLUGINS = ("ffaccel.quality.cli", "ffaccel.demo.cli")


def _print_info(args: argparse.Namespace) -> int:
    from ffaccel import status

    from ffaccel.opencv_compat import installed_opencv

    s = status()
    s["opencv"] = installed_opencv()
    if args.json:
        print(json.dumps(s, indent=2))
        return 0
    print(f"ffaccel {s['version']}")
    if s["cuda_built"]:
        print(f"  CUDA kernels    built with {s['cuda_compiler']} for {', '.join(s['cuda_archs'])}")
        print(f"  CUDA runtime    {s['cuda_runtime_version']} (static); driver needed {s['driver_required']}")
        print(f"  driver          {s['driver_version']}" + (f"  ({s['cuda_error']})" if s["cuda_error"] else ""))
    else:
        print(f"  CUDA kernels    NOT built: {s['cuda_reason']}; only the CPU path is available")
    if s["gpus"]:
        for g in s["gpus"]:
            line = f"  GPU {g['index']}           {g['name']} (compute {g['compute_capability']}, {g['memory_gib']} GiB): "
            line += g["code"] if g["supported"] else "NOT SUPPORTED - " + g["advice"]
            print(line)
    else:
        print("  GPUs            none visible")
    print(f"  CPU threads     {s['cpu_threads']}")
    for name in ("numpy", "cupy", "torch"):
        info: dict[str, Any] = s.get(name, {})
        if info.get("available"):
            extra = f", CUDA {'yes' if info.get('cuda') else 'no'}" if name == "torch" else ""
            print(f"  {name:<15} {info['version']}{extra}")
        elif info:
            print(f"  {name:<15} not importable ({info['error']})")
    cv = s["opencv"]
    if not cv["available"]:
        print(f"  {'opencv':<15} not importable; compat modes that follow OpenCV need it")
    elif cv["mode"]:
        print(f"  {'opencv':<15} {cv['version']}: compat mode {cv['mode']!r} reproduces its warpAffine byte for byte")
    else:
        print(f"  {'opencv':<15} {cv['version']}: NO compat mode matches it: {cv['reason']}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ffaccel", description="Acceleration and quality tools for face-swap pipelines.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    info = sub.add_parser("info", help="show the build, the CUDA runtime and driver, and visible GPUs")
    info.add_argument("--json", action="store_true", help="print ffaccel.status() as JSON")
    info.set_defaults(func=_print_info)
    for name in _PLUGINS:
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        module.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `ffaccel info | head`: the reader left, nothing to report
        sys.stderr.close()
        return 0


if __name__ == "__main__":
    raise SystemExit(main())
