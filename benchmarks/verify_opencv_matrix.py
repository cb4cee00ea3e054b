"""Verify ffaccel's warp compat modes against every OpenCV release pip offers.

For each ``opencv-python-headless`` release it makes a small virtual environment (numpy,
that OpenCV, and the given ffaccel wheel; nothing but pip's index is used), then runs this
file inside it as a worker: the same held-out cases (seeded, not the tests' cases) go
through ``cv2.warpAffine(..., INTER_LINEAR)`` and ``ffaccel.warp_affine`` in each mode,
and the worker reports per mode how many cases came out byte-identical. OpenCV 5.1 is run
twice: as installed (IPP on) and with ``OPENCV_IPP=disabled``.

The cases: uint8 with 1, 3, 4 channels and float32 with 1, 3 channels; BORDER_REPLICATE
and BORDER_CONSTANT (random border value); source 1..400 px a side; output 1..400 px;
matrices: random rotation + anisotropic scale 0.1..8 + shear + translation, pure
translations, and near-identity ones.

Usage::

    python -m pip wheel --no-deps -w dist .
    python benchmarks/verify_opencv_matrix.py --wheel dist/ffaccel-*.whl --cases 300 --update-docs docs/ops.md

The table goes to stdout (markdown) and, with ``--update-docs``, between the
``<!-- opencv-matrix:begin -->`` / ``<!-- opencv-matrix:end -->`` markers of that file.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RELEASES = ["4.8.0.76", "4.8.1.78", "4.9.0.80", "4.10.0.84", "4.11.0.86", "4.12.0.88", "4.13.0.92", "4.14.0.94",
            "5.0.0.93", "5.1.0.95"]
MODES = ["opencv4", "opencv5.0"]
BEGIN, END = "<!-- opencv-matrix:begin -->", "<!-- opencv-matrix:end -->"


# ---------------------------------------------------------------- worker (inside a venv)
def _cases(n: int, seed: int):
    import numpy as np

    rng = np.random.default_rng(seed)
    kinds = [(np.uint8, 1), (np.uint8, 3), (np.uint8, 4), (np.float32, 1), (np.float32, 3)]
    for i in range(n):
        dtype, c = kinds[i % len(kinds)]
        border = ("replicate", "constant")[(i // len(kinds)) % 2]
        h, w = (int(v) for v in rng.integers(1, 401, 2))
        if dtype == np.uint8:
            src = rng.integers(0, 256, (h, w, c), dtype=np.uint8)
        else:
            src = rng.uniform(-20, 300, (h, w, c)).astype(np.float32)
        if c == 1 and i % 2:
            src = src[..., 0]
        shape = i % 10
        if shape == 0:  # translation
            m = np.array([[1.0, 0, rng.uniform(-50, 50)], [0, 1.0, rng.uniform(-50, 50)]])
        elif shape == 1:  # near identity
            m = np.array([[1 + rng.normal(0, 1e-3), rng.normal(0, 1e-3), rng.uniform(-3, 3)],
                          [rng.normal(0, 1e-3), 1 + rng.normal(0, 1e-3), rng.uniform(-3, 3)]])
        else:
            ang = rng.uniform(-np.pi, np.pi)
            sx, sy = np.exp(rng.uniform(np.log(0.1), np.log(8), 2))
            shear = rng.uniform(-0.3, 0.3)
            rot = np.array([[np.cos(ang), -np.sin(ang)], [np.sin(ang), np.cos(ang)]])
            a = rot @ np.array([[sx, shear], [0, sy]])
            m = np.hstack([a, rng.uniform(-300, 300, (2, 1))])
        dsize = (int(rng.integers(1, 401)), int(rng.integers(1, 401)))
        yield src, m, dsize, border, float(rng.uniform(0, 255))


def worker(n: int, seed: int) -> dict:
    import cv2
    import numpy as np

    import ffaccel
    from ffaccel.opencv_compat import OpenCVVersionError, opencv_compat_mode

    try:
        chosen, reason = opencv_compat_mode(cv2), None
    except OpenCVVersionError as exc:
        chosen, reason = None, str(exc)
    stats = {mode: {"identical": 0, "cases": 0, "values_differing": 0, "values": 0, "max_abs_diff": 0.0,
                    "by_kind": {}} for mode in MODES}
    borders = {"replicate": cv2.BORDER_REPLICATE, "constant": cv2.BORDER_CONSTANT}
    for src, m, dsize, border, bval in _cases(n, seed):
        want = cv2.warpAffine(src, m, dsize, flags=cv2.INTER_LINEAR, borderMode=borders[border],
                              borderValue=(bval,) * 4)
        kind = f"{src.dtype.name}x{1 if src.ndim == 2 else src.shape[2]}/{border}"
        for mode in MODES:
            got = ffaccel.warp_affine(src, m, dsize, border=border, border_value=bval, compat=mode).reshape(want.shape)
            d = np.abs(got.astype(np.float64) - want.astype(np.float64))
            d[np.isnan(d)] = 0
            s = stats[mode]
            same = bool(np.array_equal(got, want))
            s["cases"] += 1
            s["identical"] += int(same)
            s["values"] += int(want.size)
            s["values_differing"] += int(np.count_nonzero(got != want))
            s["max_abs_diff"] = max(s["max_abs_diff"], float(d.max()) if d.size else 0.0)
            k = s["by_kind"].setdefault(kind, [0, 0])
            k[0] += int(same)
            k[1] += 1
    line = cv2.getCPUFeaturesLine() if hasattr(cv2, "getCPUFeaturesLine") else ""
    return {"opencv": cv2.__version__, "numpy": np.__version__, "ffaccel": ffaccel.__version__,
            "ipp": bool(cv2.ipp.useIPP()), "ipp_version": cv2.ipp.getIppVersion() if cv2.ipp.useIPP() else None,
            "cpu_features": line, "chosen": chosen, "reason": reason, "stats": stats}


# ---------------------------------------------------------------- driver
def _venv(root: Path, release: str, wheel: Path, log) -> Path:
    env = root / f"cv-{release}"
    py = env / "bin" / "python"
    if not py.exists():
        subprocess.run([sys.executable, "-m", "venv", str(env)], check=True)
    minor = tuple(int(p) for p in release.split(".")[:2])
    numpy = "numpy<2" if minor < (4, 10) else "numpy>=2,<2.3"  # 4.8/4.9 wheels were built against numpy 1
    pip = [str(py), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    subprocess.run(pip + [numpy, f"opencv-python-headless=={release}"], check=True)
    subprocess.run(pip + ["--no-deps", "--force-reinstall", str(wheel)], check=True)
    log(f"  venv {env} ready")
    return py


def _run_worker(py: Path, n: int, seed: int, ipp_disabled: bool) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("OPENCV_IPP", "PYTHONPATH")}
    if ipp_disabled:
        env["OPENCV_IPP"] = "disabled"
    res = subprocess.run([str(py), os.path.abspath(__file__), "--worker", "--cases", str(n), "--seed", str(seed)],
                         env=env, capture_output=True, text=True, check=True, cwd=tempfile.gettempdir())
    return json.loads(res.stdout.strip().splitlines()[-1])


def table(results: list[dict], date: str) -> str:
    lines = [
        f"Verified {date} on x86-64 with AVX2 and AVX-512 (`{results[0]['cpu_features']}`), "
        f"ffaccel {results[0]['ffaccel']}, {results[0]['stats']['opencv4']['cases']} held-out cases per release "
        "(uint8 1/3/4 ch, float32 1/3 ch, REPLICATE and CONSTANT, sizes 1-400 px; "
        "`benchmarks/verify_opencv_matrix.py`). A cell is byte-identical cases / cases.",
        "",
        "| OpenCV | IPP | `compat=\"opencv\"` picks | `opencv4` | `opencv5.0` | verified |",
        "|---|---|---|---|---|---|",
    ]
    for r in results:
        cells = []
        for mode in MODES:
            s = r["stats"][mode]
            mark = " **all**" if s["identical"] == s["cases"] else ""
            cells.append(f"{s['identical']}/{s['cases']}{mark}")
        chosen = r["chosen"]
        if chosen:
            ok = r["stats"][chosen]["identical"] == r["stats"][chosen]["cases"]
            verdict = f"yes, {date}, {r['stats'][chosen]['cases']} cases" if ok else "NO: the chosen mode differs"
            pick = f"`{chosen}`"
        else:
            verdict = "refused (no mode)"
            pick = "error naming the version"
        if r["opencv"].startswith("5.1"):
            ipp = "on (default)" if r["ipp"] else "off (`OPENCV_IPP=disabled`)"
        else:
            ipp = "not used by warpAffine"
        lines.append(f"| {r['opencv']} | {ipp} | {pick} | {cells[0]} | {cells[1]} | {verdict} |")
    worst = []
    for r in results:
        if r["chosen"] is None:  # the closest mode, and where it differs
            mode = max(MODES, key=lambda m: r["stats"][m]["identical"])
            s = r["stats"][mode]
            bad = sorted(k for k, (a, b) in s["by_kind"].items() if a != b)
            ipp = " with IPP" if r["opencv"].startswith("5.1") and r["ipp"] else ""
            worst.append(f"- {r['opencv']}{ipp}, closest mode `{mode}`: {s['values_differing']} of {s['values']} "
                         f"values differ (max {s['max_abs_diff']:g}); kinds with differences: {', '.join(bad)}")
    if worst:
        lines += ["", "Where the refused releases differ:", ""] + worst
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--wheel", type=Path, help="the ffaccel wheel to install into each environment")
    ap.add_argument("--releases", nargs="*", default=RELEASES)
    ap.add_argument("--cases", type=int, default=300)
    ap.add_argument("--seed", type=int, default=20261205)
    ap.add_argument("--venvs", type=Path, default=Path(tempfile.gettempdir()) / "ffaccel-opencv-matrix")
    ap.add_argument("--json", type=Path, help="also write the raw results here")
    ap.add_argument("--update-docs", type=Path, help="replace the table between the markers in this file")
    ap.add_argument("--from-json", type=Path, help="render the table from an earlier --json file; no environments")
    args = ap.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(args.cases, args.seed)))
        return 0
    if args.from_json:
        saved = json.loads(args.from_json.read_text())
        return _finish(saved["results"], saved["date"], args)
    if args.wheel is None:
        ap.error("--wheel is required")
    log = lambda msg: print(msg, file=sys.stderr, flush=True)  # noqa: E731
    args.venvs.mkdir(parents=True, exist_ok=True)
    results = []
    for release in args.releases:
        t0 = time.perf_counter()
        log(f"OpenCV {release}")
        py = _venv(args.venvs, release, args.wheel.resolve(), log)
        configs = [False, True] if release.startswith("5.1.") else [False]
        for ipp_disabled in configs:
            r = _run_worker(py, args.cases, args.seed, ipp_disabled)
            results.append(r)
            log(f"  ipp={r['ipp']}: picks {r['chosen']}; " + ", ".join(
                f"{m} {r['stats'][m]['identical']}/{r['stats'][m]['cases']}" for m in MODES))
        log(f"  {time.perf_counter() - t0:.0f} s")
    date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d")
    if args.json:
        args.json.write_text(json.dumps({"date": date, "results": results}, indent=1) + "\n")
    return _finish(results, date, args)


def _finish(results: list[dict], date: str, args: argparse.Namespace) -> int:
    md = table(results, date)
    print(md)
    if args.update_docs:
        text = args.update_docs.read_text()
        if BEGIN not in text or END not in text:
            raise SystemExit(f"{args.update_docs}: no {BEGIN} ... {END} markers")
        head, rest = text.split(BEGIN, 1)
        _, tail = rest.split(END, 1)
        args.update_docs.write_text(head + BEGIN + "\n" + md + "\n" + END + tail)
    bad = [r for r in results if r["chosen"] and r["stats"][r["chosen"]]["identical"] != r["stats"][r["chosen"]]["cases"]]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
