"""Benchmark: FaceFusion's per-face helper work, stock against the ffaccel adapter.

One "face" is what a processor does around its model: warp_face_by_face_landmark_5,
create_box_mask, and paste_back of a float32 swapped crop (a reversed-channel view, as
the processors make it). The model itself is not timed. Stock is a faithful numpy/cv2
implementation of FaceFusion 3.5-3.8's helpers (tests/facefusion_fake.py); the adapter
is installed over it with ``install(mode="exact")`` and ``install(mode="fast")``, and,
when torch sees a GPU, ``install(mode="fast", device="cuda")`` (numpy in, numpy out:
upload and download included).

Also measures how far ``mode="fast"`` lands from stock (max and mean absolute
difference, in uint8 levels) on random faces.

    python benchmarks/bench_facefusion.py [--runs 30] [--diff-cases 40] [--threads N] [--json out.json]

``--threads N`` gives OpenCV and ffaccel's CPU pool N threads each (FFACCEL_NUM_THREADS is
set before ffaccel is imported), for a like-for-like comparison on a busy machine.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
if "--threads" in sys.argv[:-1]:
    os.environ["FFACCEL_NUM_THREADS"] = sys.argv[sys.argv.index("--threads") + 1]
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "tests"))
import _timing  # noqa: E402
import facefusion_fake  # noqa: E402

import ffaccel.integrations.facefusion as ffa  # noqa: E402

CASES = [((1080, 1920), 256), ((1080, 1920), 512), ((2160, 3840), 512), ((720, 1280), 128)]


def _frame(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    return rng.integers(0, 256, (*shape, 3), dtype=np.uint8)


def _landmarks(shape: tuple[int, int], face_px: float) -> np.ndarray:
    h, w = shape
    base = np.array([[-0.3, -0.2], [0.3, -0.2], [0.0, 0.05], [-0.22, 0.3], [0.22, 0.3]])
    a = 0.2
    rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    return base @ rot.T * face_px + [w * 0.45, h * 0.5]


def _face(ff: dict, frame: np.ndarray, lm: np.ndarray, crop: int, swapped: np.ndarray) -> np.ndarray:
    c, m = ff["helper"].warp_face_by_face_landmark_5(frame, lm, "arcface_128", (crop, crop))
    mask = ff["masker"].create_box_mask(c, 0.3, (0, 0, 0, 0))
    return ff["helper"].paste_back(frame, swapped, mask, m)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--diff-cases", type=int, default=40)
    ap.add_argument("--json", default=None)
    ap.add_argument("--threads", type=int, default=None, help="threads for OpenCV and ffaccel's CPU pool")
    args = ap.parse_args()

    root = tempfile.mkdtemp(prefix="ff-fake-")
    facefusion_fake.write_package(__import__("pathlib").Path(root))
    sys.path.insert(0, root)
    ff = {"helper": importlib.import_module("facefusion.face_helper"),
          "masker": importlib.import_module("facefusion.face_masker"),
          "swapper": importlib.import_module("facefusion.processors.modules.face_swapper.core")}
    import cv2

    import ffaccel

    if args.threads:
        cv2.setNumThreads(args.threads)
    print(f"threads: OpenCV {cv2.getNumThreads()}, ffaccel {ffaccel.status(frameworks=False)['cpu_threads']}")
    torch = _timing.cuda_torch()
    gpu = torch is not None

    rng = np.random.default_rng(0)
    rows = []
    for shape, crop in CASES:
        frame = _frame(rng, shape)
        lm = _landmarks(shape, crop * 0.9)
        c, _ = ff["helper"].warp_face_by_face_landmark_5(frame, lm, "arcface_128", (crop, crop))
        swapped = ff["swapper"].fake_model(c)
        run = lambda: _face(ff, frame, lm, crop, swapped)
        row = {"frame": f"{shape[1]}x{shape[0]}", "crop": crop}
        row["stock_ms"] = _timing.cpu_median_ms(run, args.runs)
        for mode in ("exact", "fast"):
            ffa.install(mode=mode)
            row[f"{mode}_ms"] = _timing.cpu_median_ms(run, args.runs)
            ffa.uninstall()
        row["exact_x"] = row["stock_ms"] / row["exact_ms"]
        row["fast_x"] = row["stock_ms"] / row["fast_ms"]
        if gpu:
            ffa.install(mode="fast", device="cuda")
            if ffa.installed_options()["gpu"]:
                row["fast_cuda_ms"] = _timing.cpu_median_ms(run, args.runs)
                row["fast_cuda_x"] = row["stock_ms"] / row["fast_cuda_ms"]
            ffa.uninstall()
        rows.append(row)
    cols = ["frame", "crop", "stock_ms", "exact_ms", "fast_ms", "exact_x", "fast_x"]
    if gpu:
        cols += ["fast_cuda_ms", "fast_cuda_x"]
    _timing.print_table(f"time per face (warp + box mask + paste), cv2 {cv2.__version__}, CPU wall ms, median",
                        rows, cols)

    # fast vs stock differences
    from ffaccel.ops.paste_back import paste_areas

    warp_d, paste_d, box_d = [], [], []
    for i in range(args.diff_cases):
        shape = [(720, 1280), (1080, 1920)][i % 2]
        crop = [128, 256, 512][i % 3]
        frame = _frame(rng, shape) if i % 4 == 0 else cv2.GaussianBlur(_frame(rng, shape), (0, 0), 2.0)
        lm = _landmarks(shape, crop * rng.uniform(0.3, 2.0)) + rng.uniform(-200, 200, 2)
        c0, m0 = ff["helper"].warp_face_by_face_landmark_5(frame, lm, "arcface_128", (crop, crop))
        b0 = ff["masker"].create_box_mask(c0, 0.3, (0, 0, 0, 0))
        sw = ff["swapper"].fake_model(c0)
        p0 = ff["helper"].paste_back(frame, sw, b0, m0)
        ffa.install(mode="fast")
        c1, _ = ff["helper"].warp_face_by_face_landmark_5(frame, lm, "arcface_128", (crop, crop))
        b1 = ff["masker"].create_box_mask(c0, 0.3, (0, 0, 0, 0))
        p1 = ff["helper"].paste_back(frame, sw, b0, m0)
        ffa.uninstall()
        x1, y1, x2, y2 = paste_areas((shape[1], shape[0]), (crop, crop), m0, facefusion=True)[0]
        warp_d.append(np.abs(c0.astype(np.int16) - c1))
        paste_d.append(np.abs(p0.astype(np.int16) - p1)[y1:y2, x1:x2])
        box_d.append(np.abs(b0.astype(np.float64) - b1))
    diff = []
    for name, ds in (("warp crop (levels)", warp_d), ("paste area (levels)", paste_d), ("box mask (0..1)", box_d)):
        flat = np.concatenate([d.ravel() for d in ds])
        diff.append({"output": name, "max": float(flat.max()), "mean": float(flat.mean()),
                     "share_differing": float((flat > 0).mean())})
    _timing.print_table(f"mode='fast' against stock, {args.diff_cases} random faces", diff,
                        ["output", "max", "mean", "share_differing"])
    if args.json:
        _timing.save_json(args.json, {"per_face": rows, "fast_vs_stock": diff, "machine": _timing.machine()})


if __name__ == "__main__":
    main()
