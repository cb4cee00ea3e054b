"""Run a detector (MTCNN, or Face Mesh: facemesh.py) on every frame of a rendered clip, as a
tracking pipeline would; cache the tracks.

Search strategy (bounds the CPU at 4K): on a frame after a detection, the detector sees only
a square window of 2x the larger side of the previous face box around it, with ``min_face`` half that box;
when the window holds no face (first frame, after a scene cut, after the face was covered)
it searches the whole frame with ``min_face = max(20, height / 40)``. Of several faces in the
window the one overlapping the previous box most is kept (the highest score on a search).

Cache: ``<cache>/<tag>_<key>.npz``, key = hash of the clip spec, the render version, the
detector version (weights + code) and the environment (OpenCV, onnxruntime and numpy
versions; mediapipe's for Face Mesh), so a change to any of them re-runs the detector. The
clip's RNG seed comes from the spec, render and detector versions only (``clip_key``), as
before the environment was part of the key, so the seeds of the documented runs stay the
same. A detector object names its version with a ``version()`` method; MTCNN's is
``mtcnn_onnx.detector_version()`` (so MTCNN's keys are those of every earlier run).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict
from pathlib import Path

import numpy as np

from . import clips
from .mtcnn_onnx import MTCNN, detector_version

REF_FACE = 300.0
REF_RENDERS = 24
WINDOW = 2.0  # search window side, in face boxes (the larger box side)


def _best(dets, prev_box):
    if not dets:
        return None
    if prev_box is None:
        return max(dets, key=lambda d: d[1])

    def iou(b):
        ix = max(0.0, min(b[2], prev_box[2]) - max(b[0], prev_box[0]))
        iy = max(0.0, min(b[3], prev_box[3]) - max(b[1], prev_box[1]))
        inter = ix * iy
        area = (b[2] - b[0]) * (b[3] - b[1]) + (prev_box[2] - prev_box[0]) * (prev_box[3] - prev_box[1])
        return inter / max(area - inter, 1e-9)

    return max(dets, key=lambda d: (iou(d[0]), d[1]))


def window_around(prev_box, width: int, height: int) -> tuple[int, int, int, int] | None:
    """(x0, y0, x1, y1): the search window of ``WINDOW`` face boxes around the last box, cut to
    the frame; None when under 24 px a side (then the whole frame is searched)."""
    side = WINDOW * max(prev_box[2] - prev_box[0], prev_box[3] - prev_box[1])
    cx, cy = 0.5 * (prev_box[0] + prev_box[2]), 0.5 * (prev_box[1] + prev_box[3])
    x0, y0 = int(max(0, cx - side / 2)), int(max(0, cy - side / 2))
    x1, y1 = int(min(width, cx + side / 2)), int(min(height, cy + side / 2))
    return (x0, y0, x1, y1) if x1 - x0 >= 24 and y1 - y0 >= 24 else None


def det_version(det=None) -> str:
    """The detector's version (cache keys, clip seeds): MTCNN's when ``det`` is None or MTCNN."""
    return det.version() if hasattr(det, "version") else detector_version()


def detect_near(det: MTCNN, img: np.ndarray, window: tuple[int, int, int, int], prev_box):
    """The face in ``img`` (the pixels of ``window``) that continues ``prev_box``, in frame
    coordinates: (box, score, (5, 2) points), or None."""
    x0, y0 = window[:2]
    side = WINDOW * max(prev_box[2] - prev_box[0], prev_box[3] - prev_box[1])
    dets = det.detect(img, min_face=max(12.0, 0.5 * side / WINDOW))
    return _best([(b + [x0, y0, x0, y0], s, p + [x0, y0]) for b, s, p in dets], prev_box)


def detect_whole(det: MTCNN, img: np.ndarray):
    """The best face of a search of the whole frame ``img`` (faces from 1/40 of its height), or None."""
    return _best(det.detect(img, min_face=max(20.0, img.shape[0] / 40.0)), None)


def reference_points(photo_name: str, det: MTCNN, cache: Path) -> np.ndarray:
    """The photo's 5 points (photo px) as the detector sees them at a 300 px face; cached."""
    key = hashlib.sha1(f"{photo_name}|{det_version(det)}|{clips.RENDER_VERSION}".encode()).hexdigest()[:12]
    path = cache / f"ref_{photo_name}_{key}_{environment_key(det)}.npy"
    if path.exists():
        return np.load(path)
    photo = clips.load_photo(photo_name)
    found = _best(det.detect(photo), None)
    if found is None:
        raise RuntimeError(f"no face found in photo {photo_name!r}")
    ref = found[2]
    rng = np.random.default_rng(7)
    rend = clips.Renderer(photo)
    import cv2

    cv2.setRNGSeed(7)
    side = int(3 * REF_FACE)
    for _ in range(2):  # the second pass uses the refined face centre and eye distance
        back = []
        for _ in range(REF_RENDERS):
            row = np.array([side / 2 + rng.uniform(-1, 1), side / 2 + rng.uniform(-1, 1),
                            REF_FACE * rng.uniform(0.93, 1.13), np.radians(rng.uniform(-3, 3))])
            m = clips.similarity(row, ref)
            img = rend.render(m, (0, 0, side, side))
            hit = _best(det.detect(img, min_face=0.5 * REF_FACE), None)
            if hit is not None:
                inv = cv2.invertAffineTransform(m)
                back.append(clips.apply(inv, hit[2]))
        ref = np.mean(back, axis=0)
    cache.mkdir(parents=True, exist_ok=True)
    np.save(path, ref)
    return ref


def clip_key(spec: clips.ClipSpec, det=None) -> str:
    parts = [asdict(spec), clips.RENDER_VERSION, clips.SENSOR_SIGMA, det_version(det)]
    if spec.scenario in clips.BLURRED:  # only there, so the sharp clips keep their keys
        parts.append([clips.SHUTTER, clips.BLUR_SAMPLES])
    blob = json.dumps(parts, sort_keys=True)
    return hashlib.sha1(blob.encode()).hexdigest()[:12]


def environment(det=None) -> str:
    """The packages the rendered frames and the detections depend on, with their versions.

    Why: the same clip spec, seed and weights give other detections under another OpenCV
    (its RNG draws the sensor noise; its warps render the frames and resize the detector's
    pyramid): up to tens of px on the larger faces between OpenCV 4.13 and 5.0
    (docs/stability.md, "How to reproduce"), so the cache and the exported tracks name them.
    (Here, not in mtcnn_onnx.py: that file's hash is part of ``detector_version`` and so of
    every clip's RNG seed.)
    """
    import cv2

    if getattr(det, "name", "mtcnn") == "facemesh":
        import mediapipe

        return f"opencv {cv2.__version__}, mediapipe {mediapipe.__version__}, numpy {np.__version__}"
    import onnxruntime

    return f"opencv {cv2.__version__}, onnxruntime {onnxruntime.__version__}, numpy {np.__version__}"


def environment_key(det=None) -> str:
    """Short hash of ``environment(det)``: part of every cache file's name."""
    return hashlib.sha1(environment(det).encode()).hexdigest()[:8]


def cache_key(spec: clips.ClipSpec, det=None) -> str:
    """``clip_key`` and the environment: the name of the clip's cache file."""
    return f"{clip_key(spec, det)}_{environment_key(det)}"


def run_clip(spec: clips.ClipSpec, det: MTCNN, cache: Path) -> dict:
    """truth (T,5,2), detected (T,5,2) NaN on misses, boxes (T,4), scores (T,), searches (T,) bool, cuts."""
    path = cache / f"{spec.tag}_{cache_key(spec, det)}.npz"
    if path.exists():
        with np.load(path) as d:
            return {k: d[k] for k in d.files}
    import cv2

    ref = reference_points(spec.photo, det, cache)
    traj, cuts = clips.trajectory(spec)
    blur = clips.exposure(spec)  # None but for the motion-blurred scenarios
    w, h = spec.size
    rend = clips.Renderer(clips.load_photo(spec.photo))
    cv2.setRNGSeed(int(clip_key(spec, det)[:6], 16))
    t_len = spec.frames
    truth = np.empty((t_len, 5, 2))
    detected = np.full((t_len, 5, 2), np.nan)
    boxes = np.full((t_len, 4), np.nan)
    scores = np.zeros(t_len)
    searched = np.zeros(t_len, bool)
    prev = None
    for i in range(t_len):
        m = clips.similarity(traj[i], ref)
        truth[i] = clips.apply(m, ref)
        occ = clips.occluders(spec, i, truth[i])
        shutter = None if blur is None else [clips.similarity(row, ref) for row in blur[i]]
        hit = None
        window = None if prev is None else window_around(prev, w, h)
        if window is not None:
            x0, y0, x1, y1 = window
            hit = detect_near(det, rend.render(m, (x0, y0, x1 - x0, y1 - y0), occ, shutter), window, prev)
        if hit is None:
            searched[i] = True
            hit = detect_whole(det, rend.render(m, (0, 0, w, h), occ, shutter))
        if hit is not None:
            boxes[i], scores[i], detected[i] = hit
            prev = hit[0]
    out = {"truth": truth, "detected": detected, "boxes": boxes, "scores": scores, "searched": searched,
           "cuts": np.asarray(cuts, np.int64), "ref5": ref, "traj": traj, "environment": np.str_(environment(det)),
           "detector": np.str_(getattr(det, "name", "mtcnn"))}
    cache.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npz")
    np.savez(tmp, **out)
    tmp.replace(path)
    return out
