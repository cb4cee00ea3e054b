"""The clip set of the real-detector benchmark: specs, parallel generation, export as .npz tracks."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from . import clips

QUICK_SCENARIOS = ("still", "nod", "cut", "occlusion")
QUICK_COMBOS = (("720p", 240),)
# The small float32 subset committed under tests/data/real_tracks (about 100 KB).
TEST_SUBSET = tuple(
    [clips.ClipSpec(s, r, f, "astronaut") for s in ("still", "nod", "cut", "occlusion") for r, f in (("720p", 80), ("4k", 600))]
    + [clips.ClipSpec(s, "720p", 240, "camera") for s in ("still", "nod")]
    + [clips.ClipSpec("nod", "4k", 240, "hopper")]  # the fast nod's worst frame in the benchmark (issue 13)
)


def all_specs(quick: bool = False) -> list[clips.ClipSpec]:
    scen = QUICK_SCENARIOS if quick else clips.SCENARIOS
    combos = QUICK_COMBOS if quick else clips.COMBOS
    out = []
    for res, face in combos:
        for photo in clips.PHOTOS:
            if quick and photo != "astronaut":
                continue
            if photo == "camera" and face > clips.CAMERA_MAX_FACE:
                continue
            out.extend(clips.ClipSpec(s, res, face, photo) for s in scen)
    return out


_DET = None


DETECTORS = ("mtcnn", "facemesh")


def make_detector(name: str = "mtcnn"):
    """The benchmark's detector: "mtcnn" (mtcnn_onnx.MTCNN) or "facemesh" (facemesh.FaceMesh5)."""
    if name == "mtcnn":
        from .mtcnn_onnx import MTCNN

        return MTCNN()
    if name == "facemesh":
        from .facemesh import FaceMesh5

        return FaceMesh5()
    raise ValueError(f"detector: expected one of {DETECTORS}, got {name!r}")


def _work(args):
    spec, cache, detector = args
    global _DET
    import cv2

    cv2.setNumThreads(1)
    from . import track

    if _DET is None:
        _DET = make_detector(detector)
    return spec, track.run_clip(spec, _DET, Path(cache))


def generate(specs, cache: Path, jobs: int = 2, on_done=None, detector: str = "mtcnn") -> dict:
    """Run (or load) every clip with ``detector`` (DETECTORS); ``on_done(spec, result)`` is
    called as each one finishes."""
    from . import track

    cache = Path(cache)
    # The photos' reference points first (shared by all clips of a photo), in this process.
    det = make_detector(detector)
    for photo in sorted({s.photo for s in specs}):
        track.reference_points(photo, det, cache)
    results = {}
    todo = [(s, str(cache), detector) for s in specs]
    if jobs <= 1:
        it = map(_work, todo)
        pool = None
    else:
        import multiprocessing as mp

        pool = mp.get_context("spawn").Pool(jobs)  # fork after onnxruntime threads deadlocks
        it = pool.imap_unordered(_work, todo)
    try:
        for spec, res in it:
            results[spec] = res
            if on_done is not None:
                on_done(spec, res)
    finally:
        if pool is not None:
            pool.close()
            pool.join()
    return results


def load_tracks(specs, folder: Path) -> dict:
    """The clips' tracks from .npz files written by ``export`` (no detector run): {spec: result}.
    A folder exported before the motion-blurred scenarios existed (``clips.BLURRED``) has
    none of their files: those clips are left out, with one line saying so."""
    results = {}
    left_out = []
    for s in specs:
        path = Path(folder) / f"{s.tag}.npz"
        if not path.is_file() and s.scenario in clips.BLURRED:
            left_out.append(s.tag)
            continue
        if not path.is_file():
            raise FileNotFoundError(f"--tracks: no {path.name} in {folder} (write them with --export)")
        with np.load(path) as d:
            results[s] = {k: d[k] for k in d.files}
    if left_out:
        print(f"--tracks: {folder} has no tracks of the motion-blurred scenarios {sorted(set(clips.BLURRED))} "
              f"({len(left_out)} clips left out)")
    return results


def saved_tracks(folder: Path) -> list[dict]:
    """Every .npz track in ``folder`` (written by ``export``), in name order: dicts of name,
    scenario, photo, combo ("res/face"), truth and det ((T, N, 2), as stored: float64, or
    float32 in the shipped subset), cuts, fw (the clip's face width, px); empty where there is
    none."""
    tracks = []
    for path in sorted(Path(folder).glob("*.npz")):
        with np.load(path, allow_pickle=False) as d:
            stem = path.stem.split("_")
            tracks.append({"name": path.stem, "scenario": str(d["scenario"]), "photo": str(d["photo"]),
                           "combo": f"{d['resolution']}/{stem[-2]}", "truth": d["truth"],
                           "det": d["detected"], "cuts": [int(c) for c in d["cuts"]],
                           "fw": float(d["face_width"])})
    return tracks


def face_widths(truth: np.ndarray) -> np.ndarray:
    """(T,) face width per frame: 2 x the distance between the two eye points, px."""
    return 2.0 * np.linalg.norm(truth[:, 1] - truth[:, 0], axis=1)


def export(spec: clips.ClipSpec, res: dict, outdir: Path, dtype=np.float64) -> Path:
    """Write one clip's tracks in the documented format (see ``README_TRACKS``)."""
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    fw = face_widths(res["truth"])
    path = outdir / f"{spec.tag}.npz"
    tmp = outdir / f".{spec.tag}.{os.getpid()}.tmp.npz"
    np.savez_compressed(
        tmp,
        truth=res["truth"].astype(dtype),
        detected=res["detected"].astype(dtype),
        fps=np.float64(clips.FPS),
        face_width=np.float64(np.median(fw)),
        face_width_per_frame=fw.astype(dtype),
        cuts=np.asarray(res["cuts"], np.int64),
        scenario=np.str_(spec.scenario),
        resolution=np.str_(spec.res),
        photo=np.str_(spec.photo),
        boxes=res["boxes"].astype(dtype),
        scores=res["scores"].astype(dtype),
        environment=np.str_(str(res.get("environment", "unknown"))),
        detector=np.str_(str(res.get("detector", "mtcnn"))),
    )
    tmp.replace(path)
    return path


README_TRACKS = """\
Real-detector landmark tracks (ffaccel issue 13, part 1)
=========================================================

One .npz per clip: <scenario>_<resolution>_<facepx>_<photo>.npz, written by
benchmarks/bench_stability_real.py (--export DIR). Load with numpy.load(path).

Keys
  truth       (T, 5, 2) float, px: the known position of the photo's 5 points in every
              frame (the photo's points located once by the detector on the still photo
              at a 300 px face, mapped by the frame's known similarity transform).
  detected    (T, 5, 2) float, px: the detector's float (sub-pixel) landmarks on the
              rendered frame; a row of NaN where it found no face (a missed frame).
  fps         float, frames per second (30).
  face_width  float, px: median over frames of 2 x inter-ocular distance of truth
              (distance between points 0 and 1). Normalise errors by it.
  face_width_per_frame (T,) float, px: the same per frame (it changes in "zoom").
  cuts        (K,) int: frame indices that start a new shot (empty but for "cut").
  scenario, resolution, photo: str.
  boxes       (T, 4) float px x0 y0 x1 y1 of the detector's box (NaN on misses); scores (T,).
  environment str: the OpenCV, onnxruntime (mediapipe for Face Mesh) and numpy versions
              that rendered the frames and ran the detector (other versions give other
              detections; absent in tracks written before it was recorded).
  detector    str: "mtcnn" (MTCNN, benchmarks/real/mtcnn_onnx.py) or "facemesh"
              (MediaPipe Face Mesh reduced to 5 points, benchmarks/real/facemesh.py);
              absent in tracks written before it was recorded (MTCNN's).

Point order: image-left eye, image-right eye, nose tip, image-left mouth corner,
image-right mouth corner. Coordinates: x right, y down, 0-based pixel indices (the
centre of the top-left pixel is (0, 0)).

Scenarios (96 frames at 30 fps; motion in face widths F so every scale sees the same
normalised clip): still; slow_pan (0.005 F/frame); shaky (1.1-2.7 Hz sinusoids,
amplitudes 0.025-0.04 F, roll +-1.5 deg); nod (frames 20-80: vertical 1.5 Hz oscillation
peaking at 0.08 F/frame, roll +-3 deg, scale +-3 %); turn (frames 30-60: sideways sweep
peaking at 0.10 F/frame, roll 12 deg, scale -8 %); zoom (face x1.5, frames 20-80);
cut (new shot at frame 48: other place, scale x0.8, roll -8 deg); occlusion (slow pan;
frames 40-47 the lower face is covered, frames 75-78 the whole face: misses);
nod_blur and turn_blur (the nod and the turn with motion blur: each frame the mean of 8
renders over half the frame interval, centred on the frame's time; folders exported
before them lack them).
Resolutions x face widths: 720p 80/240, 1080p 120/360, 4k 240/600.
Photos: astronaut (skimage), hopper (matplotlib's grace_hopper.jpg), camera (skimage
cameraman, faces <= 240 px only).

The detector sees a window of 2x its previous box around the last detection (as a
tracking pipeline would) and searches the whole frame when the window holds no face.
"""
