"""Run the whole demo: generate the clip, run every path with and without stabilisation,
measure, and write the artefacts into one folder.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ffaccel.demo import require_demo_dependencies

__all__ = ["DemoOptions", "DemoResult", "DemoUsageError", "run_demo", "resolve_device"]

#: The smoother's motion model: std of the per-frame change of velocity, px/frame^2 at 1080p.
STABILISER_ACCEL_PX = 0.3
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


def _tile(img: np.ndarray, size: tuple[int, int], text: str, unit: float) -> np.ndarray:
    import cv2

    tile = cv2.resize(img, size, interpolation=cv2.INTER_AREA)
    scale = max(0.35, 0.9 * unit)
    thick = max(1, int(round(2 * unit)))
    org = (int(10 * unit) + 4, int(34 * unit) + 10)
    cv2.putText(tile, text, org, cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), thick + 2, cv2.LINE_AA)
    cv2.putText(tile, text, org, cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), thick, cv2.LINE_AA)
    return tile


def run_demo(options: DemoOptions, log: Callable[[str], None] = print) -> DemoResult:
    """Run the demo and write its artefacts; see docs/demo.md for what each one shows.

    Raises:
        DemoDependencyError: scikit-image, matplotlib or OpenCV is missing.
        DemoUsageError: the options cannot be honoured.
        OSError: the output folder cannot be written.
    """
    require_demo_dependencies()
    import cv2

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

    spec = ClipSpec(frames=options.frames, width=options.width, height=options.height, seed=options.seed)
    clip = SyntheticClip(spec)
    unit = clip.unit

    t0 = time.perf_counter()
    smoothed5 = ffaccel.smooth_track(clip.noisy5, accel_px=STABILISER_ACCEL_PX * unit, cuts=[])
    stabilise_ms = (time.perf_counter() - t0) * 1e3 / options.frames
    tracks = {"raw": clip.noisy5, "stabilised": smoothed5}

    config = PipelineConfig(align_source(clip.source, clip.source_five, options.crop_size),
                            color_transfer=options.color_transfer)
    paths: list[Any] = [FaceFusionPath(config), FfaccelCpuPath(config)]
    if backend is not None:
        paths.append(FfaccelCudaPath(config, backend))
    primary = paths[-1]
    reference_path = FfaccelCpuPath(config)
    timings: dict[str, list[dict[str, float]]] = {p.name: [] for p in paths}

    artefacts: dict[str, Path] = {}
    writers: dict[str, Any] = {}
    fourcc = cv2.VideoWriter.fourcc(*"mp4v")
    if options.video:
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
        p.name: {"max_abs_diff": 0, "differing_values": 0, "identical_frames": 0} for p in paths[1:]}
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
                monitors[variant].update(result, reference=reference, region=box)
                psnr[variant].append(_psnr(result[y:y + h, x:x + w], reference[y:y + h, x:x + w]))
                if i > 0:
                    err = result[y:y + h, x:x + w].astype(np.float32) - reference[y:y + h, x:x + w]
                    prev = previous[variant][y:y + h, x:x + w].astype(np.float32) - previous["reference"][y:y + h, x:x + w]
                    pixel_jitter[variant].append(float(np.mean((err - prev) ** 2)))
                previous[variant] = result
            previous["reference"] = reference
            for path in paths[1:]:
                for variant in VARIANTS:
                    diff = cv2.absdiff(outs[(path.name, variant)], outs[(paths[0].name, variant)])
                    flat = diff.reshape(diff.shape[0], -1)  # one channel for OpenCV's fast reductions
                    a = agreement[path.name]
                    a["max_abs_diff"] = max(a["max_abs_diff"], int(cv2.minMaxLoc(flat)[1]))
                    changed = int(cv2.countNonZero(flat))
                    a["differing_values"] += changed
                    a["identical_frames"] += int(changed == 0)
            if writers:
                writers["swapped"].write(outs[(primary.name, "stabilised")])
                top = np.hstack([_tile(frame, tile, "target (input)", unit),
                                 _tile(reference, tile, "swap at ground-truth landmarks", unit)])
                bottom = np.hstack([_tile(outs[(paths[0].name, "raw")], tile, "FaceFusion-style, raw landmarks", unit),
                                    _tile(outs[(primary.name, "stabilised")], tile,
                                          f"{primary.label}, stabilised", unit)])
                grid = np.vstack([top, bottom])
                if grid.shape[:2] != (spec.height, spec.width):
                    grid = cv2.copyMakeBorder(grid, 0, spec.height - grid.shape[0], 0, spec.width - grid.shape[1],
                                              cv2.BORDER_CONSTANT)
                writers["comparison"].write(grid)
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
        "noise": {"sigma_px_1080p": spec.noise.sigma_px, "outlier_rate": spec.noise.outlier_rate,
                  "outlier_px_1080p": spec.noise.outlier_px},
        "stabiliser": {"function": "ffaccel.smooth_track", "accel_px": STABILISER_ACCEL_PX * unit,
                       "noise_px": "estimated from the track"},
        "measured_path": primary.name,
        "reference": "the same pipeline (ffaccel CPU) fed the ground-truth landmarks",
        "variants": variants,
        "stabilisation": {
            "landmark_jitter_ratio": stab_j / raw_j if raw_j > 0 else None,
            "footprint_jitter_ratio": stab_f / raw_f if raw_f > 0 else None,
            "reduced_jitter": bool(stab_j < raw_j and stab_f < raw_f),
        },
        "paths_agree_with_facefusion": agreement,
    }

    timing = timing_summary(timings, {p.name: p.label for p in paths}, stabilise_ms)
    timing["machine"] = {"cpu_threads": ffaccel.status(frameworks=False).get("cpu_threads"),
                         "device_note": device_note, "opencv": cv2.__version__, "numpy": np.__version__,
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
        write_plot(monitors[variant], out_dir / f"quality_{variant}.png")
        write_html(monitors[variant], out_dir / f"quality_{variant}.html", source)
        artefacts[f"quality_{variant}"] = out_dir / f"quality_{variant}.html"
    plot_tracks(per_frame, per_frame_fp, clip.outlier_frames, out_dir / "landmarks.png")
    artefacts["landmarks_plot"] = out_dir / "landmarks.png"
    np.savez_compressed(out_dir / "landmarks.npz", truth68=clip.truth68, truth5=clip.truth5, noisy5=clip.noisy5,
                        noisy68=clip.noisy68, stabilised5=smoothed5, outlier_frames=clip.outlier_frames)
    artefacts["landmarks"] = out_dir / "landmarks.npz"

    wall = time.perf_counter() - started
    timing["wall_s"] = wall
    write_json(timing, out_dir / "timing.json")
    md = [f"# ffaccel demo: timing ({spec.width}x{spec.height}, {spec.frames} frames, crop {options.crop_size})", "",
          "Median ms per face (each path ran every frame twice: raw and stabilised landmarks); "
          "speed-up = FaceFusion-style median / this path's median.", "", table, "",
          f"{device_note}. Machine: {timing['machine']['cpu_threads']} CPU threads, OpenCV {cv2.__version__}.", "",
          "## Quality against ground truth", ""] + [f"- {line}" for line in format_quality_lines(quality)]
    (out_dir / "timing.md").write_text("\n".join(md) + "\n", encoding="utf-8")
    artefacts["timing"] = out_dir / "timing.md"
    artefacts["timing_json"] = out_dir / "timing.json"
    return DemoResult(out_dir, artefacts, timing, quality, table, wall, device_note)
