"""Run the whole demo: generate the clip, run every path with and without stabilisation,
measure, and write the artefacts into one folder.

Needs numpy only. Without OpenCV the FaceFusion-style baseline is skipped and PNG stills
replace the mp4 videos; without matplotlib the PNG plots are skipped (the HTML reports
are written without them). Each gap is one line in :attr:`DemoResult.notes`.
"""

from __future__ import annotations

import importlib
import struct
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ffaccel.demo import OPTIONAL, missing_optional

__all__ = ["DemoOptions", "DemoResult", "DemoUsageError", "run_demo", "resolve_device"]

VARIANTS = ("raw", "stabilised")


class DemoUsageError(ValueError):
    """The options cannot be honoured (e.g. ``--device cuda`` without a usable GPU)."""


@dataclass
class DemoOptions:
    """What ``ffaccel demo`` does.

    Attributes:
        frames: clip length.
        width, height: frame size.
        device: ``"cpu"``, ``"cuda"`` or ``"auto"`` (CUDA when usable).
        output: the output folder (created; files in it are overwritten).
        video: write the two mp4 files.
        crop_size: side of the face crop (FaceFusion uses 128 for its swapper, up to 512 with pixel boost).
        color_transfer: colour-match the swap stand-in to the target.
        progress: draw a progress bar on stderr.
        seed: seed of the shake and the detector noise.
    """

    frames: int = 150
    width: int = 1920
    height: int = 1080
    device: str = "auto"
    output: Path = field(default_factory=lambda: Path("ffaccel-demo"))
    video: bool = True
    crop_size: int = 512
    color_transfer: bool = True
    progress: bool = True
    seed: int = 7


@dataclass
class DemoResult:
    """What a run produced: the folder, its files, the timing and quality reports."""

    output: Path
    artefacts: dict[str, Path]
    timing: dict[str, Any]
    quality: dict[str, Any]
    timing_table: str
    wall_s: float
    device_note: str
    notes: list[str] = field(default_factory=list)


def resolve_device(device: str) -> tuple[Any | None, str]:
    """(CUDA backend or None, a note for the report) for ``cpu``/``cuda``/``auto``.

    Raises:
        DemoUsageError: ``cuda`` was asked for and cannot be used (the message says why).
    """
    from ffaccel.demo.pipeline import cuda_backend

    if device == "cpu":
        return None, "CUDA path not run (--device cpu)"
    backend, reason = cuda_backend()
    if backend is None:
        if device == "cuda":
            raise DemoUsageError(f"--device cuda: {reason}")
        return None, f"CUDA path not run: {reason}"
    return backend, f"CUDA path run with {backend.name}"


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float32) - b.astype(np.float32)) ** 2))
    return 99.0 if mse == 0 else 10.0 * np.log10(255.0**2 / mse)


def still_indices(frames: int) -> dict[int, str]:
    """Frame index -> still name, for the PNG stills written when OpenCV cannot write the videos:
    the ``first``, ``middle`` and ``last`` frames of a clip of ``frames`` (>= 3) frames."""
    return {0: "first", frames // 2: "middle", frames - 1: "last"}


def write_png(path: str | Path, image: np.ndarray) -> None:
    """Write an (H, W, 3) uint8 **BGR** image (or (H, W) grey) as an 8-bit PNG, with zlib and struct only."""
    img = np.asarray(image)
    if img.dtype != np.uint8 or img.ndim not in (2, 3) or (img.ndim == 3 and img.shape[2] != 3):
        raise ValueError(f"image: expected (H, W) or (H, W, 3) uint8, got {img.dtype} {img.shape}")
    height, width = img.shape[:2]
    color_type = 0 if img.ndim == 2 else 2
    rows = np.ascontiguousarray(img if img.ndim == 2 else img[:, :, ::-1]).reshape(height, -1)
    raw = np.hstack([np.zeros((height, 1), np.uint8), rows]).tobytes()  # filter type 0 (None) on every row

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, color_type, 0, 0, 0)
    Path(path).write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 6))
                           + chunk(b"IEND", b""))


def _half_tile(img: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """``img`` reduced to ``size`` (width, height) by averaging pixel blocks (numpy; no labels)."""
    tw, th = size
    h, w = img.shape[:2]
    ys = (np.arange(th) * h) // th
    xs = (np.arange(tw) * w) // tw
    fy, fx = max(h // th, 1), max(w // tw, 1)
    acc = np.zeros((th, tw, img.shape[2]), np.float32)
    for dy in range(fy):
        for dx in range(fx):
            acc += img[np.minimum(ys + dy, h - 1)][:, np.minimum(xs + dx, w - 1)]
    return np.rint(acc / (fy * fx)).astype(np.uint8)


def _tile(img: np.ndarray, size: tuple[int, int], text: str, unit: float) -> np.ndarray:
    try:
        import cv2
    except ImportError:
        return _half_tile(img, size)

    tile = cv2.resize(img, size, interpolation=cv2.INTER_AREA)
    scale = max(0.35, 0.9 * unit)
    thick = max(1, int(round(2 * unit)))
    org = (int(10 * unit) + 4, int(34 * unit) + 10)
    cv2.putText(tile, text, org, cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), thick + 2, cv2.LINE_AA)
    cv2.putText(tile, text, org, cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), thick, cv2.LINE_AA)
    return tile


#: File names the demo writes (fnmatch patterns); a run removes these, and only these,
#: from its output folder first, so no still of an earlier run is left beside new ones.
ARTEFACT_PATTERNS = ("swapped.mp4", "comparison.mp4", "swapped_*.png", "comparison_*.png", "quality.json",
                     "quality_*.json", "quality_*.png", "quality_*.html", "landmarks.png", "landmarks.npz",
                     "timing.json", "timing.md")


def clean_artefacts(out_dir: Path) -> list[Path]:
    """Delete the demo's own artefacts (:data:`ARTEFACT_PATTERNS`) from ``out_dir``; other files stay.

    Returns:
        The paths removed.
    """
    import fnmatch

    removed = []
    for path in sorted(out_dir.iterdir()):
        if path.is_file() and any(fnmatch.fnmatchcase(path.name, pat) for pat in ARTEFACT_PATTERNS):
            path.unlink()
            removed.append(path)
    return removed


def run_demo(options: DemoOptions, log: Callable[[str], None] = print) -> DemoResult:
    """Run the demo and write its artefacts; see docs/demo.md for what each one shows.

    Needs numpy only; what a run leaves out for a missing optional package is one line
    of :attr:`DemoResult.notes` (see :data:`ffaccel.demo.OPTIONAL`).

    Raises:
        DemoUsageError: the options cannot be honoured.
        OSError: the output folder cannot be written.
    """
    missing = missing_optional()
    notes = [OPTIONAL[m] for m in missing]
    cv2: Any = None if "cv2" in missing else importlib.import_module("cv2")
    with_plots = "matplotlib" not in missing

    import ffaccel
    from ffaccel.demo.clip import ClipSpec, SyntheticClip
    from ffaccel.demo.pipeline import FaceFusionPath, FfaccelCpuPath, FfaccelCudaPath, PipelineConfig, align_source
    from ffaccel.demo.report import (
        footprint_track,
        format_quality_lines,
        format_timing_table,
        plot_tracks,
        timing_summary,
        track_metrics,
        write_json,
    )
    from ffaccel.quality.monitor import QualityMonitor
    from ffaccel.quality.progress import ProgressBar
    from ffaccel.quality.report import write_html, write_json as write_quality_json, write_plot

    started = time.perf_counter()
    if options.crop_size > min(options.width, options.height) * 4:
        raise DemoUsageError("crop size is far larger than the frame")
    backend, device_note = resolve_device(options.device)
    out_dir = Path(options.output)
    out_dir.mkdir(parents=True, exist_ok=True)
    clean_artefacts(out_dir)

    spec = ClipSpec(frames=options.frames, width=options.width, height=options.height, seed=options.seed)
    clip = SyntheticClip(spec)
    unit = clip.unit

    t0 = time.perf_counter()
    smoothed5 = ffaccel.stabilize_track(clip.noisy5, mode="offline", cuts=[])
    stabilise_ms = (time.perf_counter() - t0) * 1e3 / options.frames
    tracks = {"raw": clip.noisy5, "stabilised": smoothed5}

    config = PipelineConfig(align_source(clip.source, clip.source_five, options.crop_size),
                            color_transfer=options.color_transfer)
    paths: list[Any] = [FfaccelCpuPath(config)]
    skipped: dict[str, str] = {}
    if cv2 is not None:
        paths.insert(0, FaceFusionPath(config))
    else:
        skipped[FaceFusionPath.label] = 'it needs OpenCV (pip install "ffaccel[opencv]")'
    if backend is not None:
        paths.append(FfaccelCudaPath(config, backend))
    primary = paths[-1]
    baseline = paths[0] if paths[0].name == FaceFusionPath.name else None
    reference_path = FfaccelCpuPath(config)
    timings: dict[str, list[dict[str, float]]] = {p.name: [] for p in paths}

    artefacts: dict[str, Path] = {}
    writers: dict[str, Any] = {}
    stills = still_indices(options.frames) if options.video and cv2 is None else {}
    if options.video and cv2 is not None:
        fourcc = cv2.VideoWriter.fourcc(*"mp4v")
        for key, name in (("swapped", "swapped.mp4"), ("comparison", "comparison.mp4")):
            path = out_dir / name
            writer = cv2.VideoWriter(str(path), fourcc, spec.fps, (spec.width, spec.height))
            if not writer.isOpened():
                raise OSError(f"cannot open a video writer for {path} (mp4v)")
            writers[key] = writer
            artefacts[key] = path

    monitors = {v: QualityMonitor(crop=None, stride=1, tail_frames=min(30, max(options.frames // 5, 1)))
                for v in VARIANTS}
    psnr: dict[str, list[float]] = {v: [] for v in VARIANTS}
    pixel_jitter: dict[str, list[float]] = {v: [] for v in VARIANTS}
    previous: dict[str, np.ndarray] = {}
    agreement: dict[str, dict[str, float]] = {
        p.name: {"max_abs_diff": 0, "differing_values": 0, "identical_frames": 0} for p in paths if baseline
        and p is not baseline}
    tile = (spec.width // 2, spec.height // 2)
    bar = ProgressBar(options.frames, label="ffaccel demo", enabled=options.progress)
    try:
        for i in range(options.frames):
            frame = clip.frame(i)
            reference, _ = reference_path.process(frame, clip.truth5[i])
            outs: dict[tuple[str, str], np.ndarray] = {}
            for path in paths:
                for variant in VARIANTS:
                    out, times = path.process(frame, tracks[variant][i])
                    timings[path.name].append(times)
                    outs[(path.name, variant)] = out
            box = clip.face_box(i)
            x, y, w, h = box
            for variant in VARIANTS:
                result = outs[(primary.name, variant)]
                monitors[variant].update(result, reference=reference, box=box)
                psnr[variant].append(_psnr(result[y:y + h, x:x + w], reference[y:y + h, x:x + w]))
                if i > 0:
                    err = result[y:y + h, x:x + w].astype(np.float32) - reference[y:y + h, x:x + w]
                    prev = previous[variant][y:y + h, x:x + w].astype(np.float32) - previous["reference"][y:y + h, x:x + w]
                    pixel_jitter[variant].append(float(np.mean((err - prev) ** 2)))
                previous[variant] = result
            previous["reference"] = reference
            for name in agreement:  # empty without the baseline
                for variant in VARIANTS:
                    diff = cv2.absdiff(outs[(name, variant)], outs[(FaceFusionPath.name, variant)])
                    flat = diff.reshape(diff.shape[0], -1)  # one channel for OpenCV's fast reductions
                    a = agreement[name]
                    a["max_abs_diff"] = max(a["max_abs_diff"], int(cv2.minMaxLoc(flat)[1]))
                    changed = int(cv2.countNonZero(flat))
                    a["differing_values"] += changed
                    a["identical_frames"] += int(changed == 0)
            if writers or i in stills:
                raw_path = baseline if baseline is not None else primary
                raw_label = "FaceFusion-style" if baseline is not None else primary.label
                top = np.hstack([_tile(frame, tile, "target (input)", unit),
                                 _tile(reference, tile, "swap at ground-truth landmarks", unit)])
                bottom = np.hstack([_tile(outs[(raw_path.name, "raw")], tile, f"{raw_label}, raw landmarks", unit),
                                    _tile(outs[(primary.name, "stabilised")], tile,
                                          f"{primary.label}, stabilised", unit)])
                grid = np.zeros((spec.height, spec.width, 3), np.uint8)
                grid[:2 * tile[1], :2 * tile[0]] = np.vstack([top, bottom])
                if writers:
                    writers["swapped"].write(outs[(primary.name, "stabilised")])
                    writers["comparison"].write(grid)
                else:
                    name = stills[i]
                    for key, image in ((f"swapped_{name}", outs[(primary.name, "stabilised")]),
                                       (f"comparison_{name}", grid)):
                        artefacts[key] = out_dir / f"{key}.png"
                        write_png(artefacts[key], image)
            bar.advance()
    finally:
        bar.close()
        for writer in writers.values():
            writer.release()

    # ---- quality against ground truth
    variants: dict[str, Any] = {}
    truth_fp = footprint_track(clip.truth5, options.crop_size)
    per_frame, per_frame_fp = {}, {}
    for variant in VARIANTS:
        lm = track_metrics(tracks[variant], clip.truth5, unit)
        fp = track_metrics(footprint_track(tracks[variant], options.crop_size), truth_fp, unit)
        per_frame[variant] = lm.pop("per_frame_error_px")
        per_frame_fp[variant] = fp.pop("per_frame_error_px")
        variants[variant] = {
            "landmarks": lm,
            "footprint": fp,
            "psnr_vs_truth_db": float(np.mean(psnr[variant])),
            "pixel_jitter_vs_truth": float(np.sqrt(np.mean(pixel_jitter[variant]))) if pixel_jitter[variant] else 0.0,
            "monitor": monitors[variant].summary(),
            "monitor_report": f"quality_{variant}.json",
        }
    raw_j, stab_j = variants["raw"]["landmarks"]["jitter_px"], variants["stabilised"]["landmarks"]["jitter_px"]
    raw_f, stab_f = variants["raw"]["footprint"]["jitter_px"], variants["stabilised"]["footprint"]["jitter_px"]
    quality = {
        "schema": "ffaccel.demo.quality/1",
        "clip": {"frames": spec.frames, "width": spec.width, "height": spec.height, "fps": spec.fps,
                 "seed": spec.seed, "crop_size": options.crop_size, "outlier_frames": np.flatnonzero(
                     clip.outlier_frames).tolist()},
        "noise": {"sigma_px_1080p": spec.noise.sigma_px, "rigid_share": spec.noise.rigid_share,
                  "outlier_rate": spec.noise.outlier_rate,
                  "outlier_px_1080p": spec.noise.outlier_px},
        "stabiliser": {"function": "ffaccel.stabilize_track", "mode": "offline",
                       "tuning": "none: noise and motion levels estimated from the track, in face units"},
        "measured_path": primary.name,
        "reference": "the same pipeline (ffaccel CPU) fed the ground-truth landmarks",
        "variants": variants,
        "stabilisation": {
            "landmark_jitter_ratio": stab_j / raw_j if raw_j > 0 else None,
            "footprint_jitter_ratio": stab_f / raw_f if raw_f > 0 else None,
            "reduced_jitter": bool(stab_j < raw_j and stab_f < raw_f),
        },
        "paths_agree_with_facefusion": agreement if baseline is not None else None,
        "skipped": {**skipped, **({} if with_plots else {"plots": "they need matplotlib"})},
    }

    timing = timing_summary(timings, {p.name: p.label for p in paths}, stabilise_ms, skipped=skipped)
    opencv_version = cv2.__version__ if cv2 is not None else None
    timing["machine"] = {"cpu_threads": ffaccel.status(frameworks=False).get("cpu_threads"),
                         "device_note": device_note, "opencv": opencv_version, "numpy": np.__version__,
                         "ffaccel": ffaccel.__version__}
    timing["frame"] = {"width": spec.width, "height": spec.height, "crop_size": options.crop_size,
                       "faces_per_path": 2 * spec.frames}
    table = format_timing_table(timing)

    write_json(quality, out_dir / "quality.json")
    artefacts["quality"] = out_dir / "quality.json"
    for variant in VARIANTS:
        source = {"output": f"{primary.name}, {variant} landmarks", "reference": "ground-truth render",
                  "width": spec.width, "height": spec.height, "fps": spec.fps}
        write_quality_json(monitors[variant], out_dir / f"quality_{variant}.json", source)
        artefacts[f"quality_{variant}_json"] = out_dir / f"quality_{variant}.json"
        if with_plots:
            write_plot(monitors[variant], out_dir / f"quality_{variant}.png")
            artefacts[f"quality_{variant}_plot"] = out_dir / f"quality_{variant}.png"
        write_html(monitors[variant], out_dir / f"quality_{variant}.html", source, plot=with_plots)
        artefacts[f"quality_{variant}"] = out_dir / f"quality_{variant}.html"
    if with_plots:
        plot_tracks(per_frame, per_frame_fp, clip.outlier_frames, out_dir / "landmarks.png")
        artefacts["landmarks_plot"] = out_dir / "landmarks.png"
    np.savez_compressed(out_dir / "landmarks.npz", truth68=clip.truth68, truth5=clip.truth5, noisy5=clip.noisy5,
                        noisy68=clip.noisy68, stabilised5=smoothed5, outlier_frames=clip.outlier_frames)
    artefacts["landmarks"] = out_dir / "landmarks.npz"

    wall = time.perf_counter() - started
    timing["wall_s"] = wall
    write_json(timing, out_dir / "timing.json")
    md = [f"# ffaccel demo: timing ({spec.width}x{spec.height}, {spec.frames} frames, crop {options.crop_size})", "",
          "Median ms per face (each path ran every frame twice: raw and stabilised landmarks)"
          + ("; speed-up = FaceFusion-style median / this path's median." if baseline is not None else "."),
          "", table, "",
          f"{device_note}. Machine: {timing['machine']['cpu_threads']} CPU threads, "
          + (f"OpenCV {opencv_version}." if opencv_version else "OpenCV not installed."), ""]
    md += [f"Note: {note}." for note in notes] + ([""] if notes else [])
    md += ["## Quality against ground truth", ""] + [f"- {line}" for line in format_quality_lines(quality)]
    (out_dir / "timing.md").write_text("\n".join(md) + "\n", encoding="utf-8")
    artefacts["timing"] = out_dir / "timing.md"
    artefacts["timing_json"] = out_dir / "timing.json"
    return DemoResult(out_dir, artefacts, timing, quality, table, wall, device_note, notes)
