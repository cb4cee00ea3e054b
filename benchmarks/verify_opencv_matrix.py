"""Verify ffaccel's warp compat modes against every OpenCV release pip offers.

For each ``opencv-python-headless`` release it makes a small virtual environment (numpy,
that OpenCV, and the given ffaccel wheel; nothing but pip's index is used), then runs this
file inside it as a worker: the same held-out cases (seeded, not the tests' cases) go
through ``cv2.warpAffine(..., INTER_LINEAR)`` and ``ffaccel.warp_affine`` in each mode,
and the worker reports per mode how many cases came out byte-identical. OpenCV 5.1 is run
twice: as installed (IPP on) and with ``OPENCV_IPP=disabled``.

It also checks ``ffaccel.paste_back_insightface`` against insightface's INSwapper paste
(tests/insightface_reference.py, the stock steps on the installed cv2) in each
``insightface-*`` generation on held-out faces, and records a digest of
``cv2.GaussianBlur`` on float32 images: releases with the same digest blur with the same
arithmetic, which is what separates the insightface generations besides the warp.

The cases: uint8 with 1, 3, 4 channels and float32 with 1, 3 channels; BORDER_REPLICATE
and BORDER_CONSTANT (random border value); source 1..400 px a side; output 1..400 px;
matrices: random rotation + anisotropic scale 0.1..8 + shear + translation, pure
translations, and near-identity ones.

Usage::

    python -m pip wheel --no-deps -w dist .
    python benchmarks/verify_opencv_matrix.py --wheel dist/ffaccel-*.whl --cases 300 --update-docs docs/ops.md

The tables go to stdout (markdown) and, with ``--update-docs FILE...``, into each file
between its ``<!-- opencv-matrix:begin -->`` / ``<!-- opencv-matrix:end -->`` markers (the
warp table) and its ``<!-- insightface-matrix:begin -->`` / ``<!-- insightface-matrix:end -->``
markers (the insightface paste table)::

    python benchmarks/verify_opencv_matrix.py --wheel dist/ffaccel-*.whl --cases 2000 --paste-cases 2000 \
        --json docs/results/opencv_matrix.json --update-docs docs/ops.md docs/insightface.md
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
INSIGHTFACE_MODES = ["insightface-opencv4", "insightface-opencv4.13", "insightface-opencv5"]
BEGIN, END = "<!-- opencv-matrix:begin -->", "<!-- opencv-matrix:end -->"
IF_BEGIN, IF_END = "<!-- insightface-matrix:begin -->", "<!-- insightface-matrix:end -->"


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


def worker_all(n: int, paste_cases: int, seed: int) -> dict:
    res = worker(n, seed)
    if paste_cases:
        res["insightface"] = worker_insightface(paste_cases, seed)
    return res


def _paste_cases(n: int, seed: int):
    """Held-out insightface faces: frames 1-1100 px wide (every W % 8 class), faces rotated,
    sheared, partly or wholly off the frame, a third of them reaching the right edge (where
    the blur's scalar tail columns are)."""
    import numpy as np

    from insightface_reference import face_matrix

    rng = np.random.default_rng(seed + 1)
    for i in range(n):
        if i % 10 == 9:  # a frame 1 px wide or high
            side = int(rng.integers(1, 300))
            h, w = ((side, 1), (1, side))[int(rng.integers(0, 2))]
        else:
            h, w = int(rng.integers(24, 400)), int(rng.integers(24, 1100))
        cs = int(rng.choice([128, 128, 128, 112, 64, 17]))
        size = float(rng.uniform(8.0, 1.4 * max(h, w) + 20))
        if i % 3 == 0:
            cx = w - float(rng.uniform(-0.3, 0.5)) * size
        else:
            cx = float(rng.uniform(-0.6 * size, w + 0.6 * size))
        cy = float(rng.uniform(-0.6 * size, h + 0.6 * size))
        m = face_matrix((cx, cy), size, float(rng.uniform(-180, 180)), crop=cs)
        if i % 4 == 1:  # a general affine (shear, unequal scales)
            m[:, :2] = m[:, :2] @ np.array([[1.0, rng.uniform(-0.4, 0.4)], [0.0, rng.uniform(0.6, 1.5)]])
        frame = rng.integers(0, 256, (h, w, 3), np.uint8)
        crop = rng.integers(0, 256, (cs, cs, 3), np.uint8)
        yield frame, crop, m


def _blur_digest(seed: int) -> str:
    """SHA-256 of cv2.GaussianBlur(float32 image, (ks, ks), 0) on seeded images: mask-like
    ones (0, 255 and soft values, as insightface's eroded mask) and random ones; widths of
    every residue mod 8 from 1 to 300 px, kernel sizes 11 to 101."""
    import hashlib

    import cv2
    import numpy as np

    rng = np.random.default_rng(seed + 2)
    h = hashlib.sha256()
    for i in range(120):
        ks = int(rng.choice([11, 13, 21, 31, 41, 61, 101]))
        w = int(rng.integers(1, 301)) if i % 6 else int(rng.integers(ks, ks + 9))
        ht = int(rng.integers(1, 120))
        img = rng.uniform(0, 255, (ht, w)).astype(np.float32)
        if i % 2:
            img = np.where(img > 120, np.float32(255), np.where(img < 100, np.float32(0), img)).astype(np.float32)
        h.update(cv2.GaussianBlur(img, (ks, ks), 0).tobytes())
    return h.hexdigest()


def worker_insightface(n: int, seed: int) -> dict:
    """paste_back_insightface in each generation against the stock steps on the installed cv2."""
    import numpy as np

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    import ffaccel
    from ffaccel.ops.paste_insightface import insightface_generation
    from insightface_reference import reference_paste

    try:
        chosen, reason = insightface_generation(), None
    except ValueError as exc:
        chosen, reason = None, str(exc)
    stats = {mode: {"identical": 0, "cases": 0, "bytes_differing": 0, "bytes": 0, "max_abs_diff": 0}
             for mode in INSIGHTFACE_MODES}
    stock_fails = 0
    for frame, crop, m in _paste_cases(n, seed):
        try:
            want = reference_paste(frame, crop, m)
        except ValueError:  # stock: no mask pixel above 20 in the frame; ffaccel returns it unchanged
            want, stock_fails = frame, stock_fails + 1
        for mode in INSIGHTFACE_MODES:
            got = ffaccel.paste_back_insightface(frame, crop, m, compat=mode)
            s = stats[mode]
            s["cases"] += 1
            s["identical"] += int(np.array_equal(got, want))
            s["bytes"] += int(want.size)
            s["bytes_differing"] += int(np.count_nonzero(got != want))
            s["max_abs_diff"] = max(s["max_abs_diff"], int(np.abs(got.astype(np.int16) - want).max()))
    return {"chosen": chosen, "reason": reason, "stock_fails": stock_fails, "blur_digest": _blur_digest(seed),
            "stats": stats}


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


def _run_worker(py: Path, n: int, paste_cases: int, seed: int, ipp_disabled: bool) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("OPENCV_IPP", "PYTHONPATH")}
    if ipp_disabled:
        env["OPENCV_IPP"] = "disabled"
    res = subprocess.run([str(py), os.path.abspath(__file__), "--worker", "--cases", str(n), "--paste-cases",
                          str(paste_cases), "--seed", str(seed)],
                         env=env, capture_output=True, text=True, check=True, cwd=tempfile.gettempdir())
    return json.loads(res.stdout.strip().splitlines()[-1])



def _verdict(stats: dict, chosen: str | None, date: str, unit: str) -> tuple[str, str]:
    """The "verified" and "picks" cells: the mode the release picks and whether it matched every case."""
    if not chosen:
        return "refused (no mode)", "error naming the version"
    s = stats[chosen]
    ok = s["identical"] == s["cases"]
    return (f"yes, {date}, {s['cases']} {unit}" if ok else "NO: the chosen mode differs"), f"`{chosen}`"


def _match_cells(stats: dict, modes) -> list[str]:
    """One table cell per mode: identical cases / cases, bold "all" when every case matched."""
    cells = []
    for mode in modes:
        s = stats[mode]
        cells.append(f"{s['identical']}/{s['cases']}" + (" **all**" if s["identical"] == s["cases"] else ""))
    return cells

def table(results: list[dict], date: str) -> str:
    results = [r for r in results if r["stats"][MODES[0]]["cases"]]  # not the insightface-only runs
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
        cells = _match_cells(r["stats"], MODES)
        chosen = r["chosen"]
        verdict, pick = _verdict(r["stats"], chosen, date, "cases")
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
    ap.add_argument("--paste-cases", type=int, default=300,
                    help="insightface paste cases per release (0: skip the insightface check)")
    ap.add_argument("--seed", type=int, default=20261205)
    ap.add_argument("--venvs", type=Path, default=Path(tempfile.gettempdir()) / "ffaccel-opencv-matrix")
    ap.add_argument("--json", type=Path, help="also write the raw results here")
    ap.add_argument("--update-docs", type=Path, nargs="+",
                    help="replace the tables between their markers in these files (each needs at least one pair)")
    ap.add_argument("--from-json", type=Path, help="render the table from an earlier --json file; no environments")
    args = ap.parse_args(argv)
    if args.worker:
        print(json.dumps(worker_all(args.cases, args.paste_cases, args.seed)))
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
        # 5.1: both configurations for everything (IPP changes its warp). Other releases: the
        # warp as installed only (their warpAffine does not use IPP), the insightface paste
        # (whose erode and blur might) with IPP on and off.
        if release.startswith("5.1."):
            configs = [(False, args.cases), (True, args.cases)]
        else:
            configs = [(False, args.cases)] + ([(True, 0)] if args.paste_cases else [])
        for ipp_disabled, warp_cases in configs:
            r = _run_worker(py, warp_cases, args.paste_cases, args.seed, ipp_disabled)
            results.append(r)
            log(f"  ipp={r['ipp']}: picks {r['chosen']}; " + ", ".join(
                f"{m} {r['stats'][m]['identical']}/{r['stats'][m]['cases']}" for m in MODES))
            if "insightface" in r:
                ins = r["insightface"]
                log(f"  insightface: picks {ins['chosen']}; " + ", ".join(
                    f"{m} {ins['stats'][m]['identical']}/{ins['stats'][m]['cases']}" for m in INSIGHTFACE_MODES))
        log(f"  {time.perf_counter() - t0:.0f} s")
    date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d")
    if args.json:
        args.json.write_text(json.dumps({"date": date, "results": results}, indent=1) + "\n")
    return _finish(results, date, args)


def insightface_table(results: list[dict], date: str) -> str:
    rows = [r for r in results if "insightface" in r]
    if not rows:
        return ""
    n = rows[0]["insightface"]["stats"][INSIGHTFACE_MODES[0]]["cases"]
    groups: dict[str, str] = {}  # blur digest -> a letter, in order of appearance
    for r in rows:
        groups.setdefault(r["insightface"]["blur_digest"], "ABCDEFGH"[len(groups) % 8])
    lines = [
        f"Verified {date} on the same machine and wheel, {n} held-out faces per release "
        "(frames 1-1100 px wide, every W % 8 class, faces of 8 px to 1.4x the frame, rotated, sheared, partly or "
        "wholly off the frame, a third at the right edge; crops 17-128 px): "
        "`ffaccel.paste_back_insightface` against insightface's paste steps on that cv2 "
        "(`tests/insightface_reference.py`; where stock raises, the unchanged frame). A cell is byte-identical "
        "faces / faces. *Blur* groups releases whose `cv2.GaussianBlur` gives the same bytes on 120 float32 "
        "images (kernel sizes 11-101, widths 1-300 px): the same letter, the same arithmetic.",
        "",
        "| OpenCV | IPP | blur | `compat=\"insightface\"` picks | " + " | ".join(f"`{m}`" for m in INSIGHTFACE_MODES)
        + " | verified |",
        "|---|---|---|---|" + "---|" * len(INSIGHTFACE_MODES) + "---|",
    ]
    for r in rows:
        ins = r["insightface"]
        cells = _match_cells(ins["stats"], INSIGHTFACE_MODES)
        chosen = ins["chosen"]
        verdict, pick = _verdict(ins["stats"], chosen, date, "faces")
        ipp = "on (default)" if r["ipp"] else "off (`OPENCV_IPP=disabled`)"
        lines.append(f"| {r['opencv']} | {ipp} | {groups[ins['blur_digest']]} | {pick} | " + " | ".join(cells)
                     + f" | {verdict} |")
    return "\n".join(lines)


def _replace_between(text: str, begin: str, end: str, body: str) -> str:
    head, rest = text.split(begin, 1)
    _, tail = rest.split(end, 1)
    return head + begin + "\n" + body + "\n" + end + tail


def _finish(results: list[dict], date: str, args: argparse.Namespace) -> int:
    md = table(results, date)
    md_if = insightface_table(results, date)
    print(md)
    if md_if:
        print()
        print(md_if)
    for path in args.update_docs or []:
        text = path.read_text()
        found = False
        for begin, end, body in ((BEGIN, END, md), (IF_BEGIN, IF_END, md_if)):
            if begin in text and end in text and body:
                text, found = _replace_between(text, begin, end, body), True
        if not found:
            raise SystemExit(f"{path}: no {BEGIN} ... {END} or {IF_BEGIN} ... {IF_END} markers (or no results for them)")
        path.write_text(text)
    bad = [r for r in results if r["chosen"] and r["stats"][r["chosen"]]["identical"] != r["stats"][r["chosen"]]["cases"]]
    bad += [r for r in results if "insightface" in r and r["insightface"]["chosen"]
            and r["insightface"]["stats"][r["insightface"]["chosen"]]["identical"]
            != r["insightface"]["stats"][r["insightface"]["chosen"]]["cases"]]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
