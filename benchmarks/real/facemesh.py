"""A second real detector for the stabilisation benchmark: MediaPipe Face Mesh, reduced to 5 points.

Benchmark dependency only: ``mediapipe==0.10.14`` (the last wheels on the package index that
ship the legacy solutions' TFLite models: ``face_detection_short_range.tflite`` (BlazeFace)
and ``face_landmark.tflite``). Install it with ``pip install --no-deps mediapipe==0.10.14
absl-py flatbuffers "protobuf>=4.25.3,<5" attrs``: it declares ``opencv-contrib-python``,
which clashes with the headless build, and a protobuf older than onnx's, so it is best put
in a folder of its own on ``PYTHONPATH`` for the detection run only (docs/stability.md,
"A second detector").

Why a second detector: MTCNN's landmark noise is mostly a rigid shift of all five points,
because its O-Net sees an integer crop box (mtcnn_onnx.py). Face Mesh is another design: a
regression of 468 points on a 192 x 192 crop rotated to the eyes, found by BlazeFace, with
no integer box. Its noise need not share MTCNN's structure, and a claim made on MTCNN's
tracks alone might only hold for MTCNN.

The five points, in MTCNN's order (image left eye, image right eye, nose, mouth corners
image left then right): each eye the mean of its 16 contour points (the mesh without
``refine_landmarks`` has no iris), the nose tip (point 1), the mouth corners (61, 291).
Coordinates are 0-based pixel-index coordinates, as MTCNN's, unrounded.

Per frame, as ``MTCNN.detect``: ``detect(rgb, min_face)`` returns every face at least
``min_face`` px wide as (box x0 y0 x1 y1, score, (5, 2) points). BlazeFace (short range)
sees its input at 128 x 128, so a face under about a tenth of the image is not found in
one pass; the image is searched in square tiles of a halving pyramid (sides from the
shorter image side down to ``TILE_FACES`` x ``min_face``, half-overlapping), the boxes
found are merged (NMS), and Face Mesh runs on a square window of ``WINDOW`` x each box's
side around it (so the mesh's own BlazeFace pass sees the face large). On the benchmark's
tracking windows (2 face boxes a side) that is one tile, one mesh call.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

__all__ = ["FaceMesh5", "detector_version"]

RIGHT_EYE = (33, 7, 163, 144, 145, 153, 154, 155, 133, 173, 157, 158, 159, 160, 161, 246)  # image left
LEFT_EYE = (362, 382, 381, 380, 374, 373, 390, 249, 263, 466, 388, 387, 386, 385, 384, 398)  # image right
NOSE_TIP = 1
MOUTH = (61, 291)  # image left, image right
TILE_FACES = 3.0  # smallest tile side, in min_face
WINDOW = 2.0  # mesh window side, in BlazeFace box sides
SCORE = 0.5  # BlazeFace's minimum detection confidence (the solution's default)


def detector_version() -> str:
    """Short hash of the two TFLite models and of this file: the detection cache key."""
    import mediapipe

    root = Path(mediapipe.__file__).parent / "modules"
    h = hashlib.sha1(f"facemesh5 mediapipe {mediapipe.__version__}".encode())
    for rel in ("face_detection/face_detection_short_range.tflite", "face_landmark/face_landmark.tflite"):
        h.update((root / rel).read_bytes())
    h.update(Path(__file__).read_bytes())
    return h.hexdigest()[:12]


def five_points(mesh: np.ndarray) -> np.ndarray:
    """(5, 2) points from the (468, 2) mesh (px), in MTCNN's order."""
    return np.stack([mesh[list(RIGHT_EYE)].mean(axis=0), mesh[list(LEFT_EYE)].mean(axis=0), mesh[NOSE_TIP],
                     mesh[MOUTH[0]], mesh[MOUTH[1]]])


def _nms(boxes: np.ndarray, scores: np.ndarray, thresh: float = 0.3) -> list[int]:
    order = list(np.argsort(-scores, kind="stable"))
    keep = []
    while order:
        i = order.pop(0)
        keep.append(i)
        rest = []
        for j in order:
            ix = max(0.0, min(boxes[i, 2], boxes[j, 2]) - max(boxes[i, 0], boxes[j, 0]))
            iy = max(0.0, min(boxes[i, 3], boxes[j, 3]) - max(boxes[i, 1], boxes[j, 1]))
            inter = ix * iy
            union = np.prod(boxes[i, 2:] - boxes[i, :2]) + np.prod(boxes[j, 2:] - boxes[j, :2]) - inter
            if inter <= thresh * union:
                rest.append(j)
        order = rest
    return keep


def tiles(width: int, height: int, min_face: float) -> list[tuple[int, int, int]]:
    """(x0, y0, side) of the search tiles: squares of a halving pyramid from the shorter image
    side down to ``TILE_FACES * min_face``, each level half-overlapping and covering the image."""
    out = []
    side = min(width, height)
    while True:
        step = max(1, side // 2)
        xs = list(range(0, width - side + 1, step))  # side <= min(width, height)
        ys = list(range(0, height - side + 1, step))
        if xs[-1] + side < width:
            xs.append(width - side)
        if ys[-1] + side < height:
            ys.append(height - side)
        out.extend((x, y, side) for y in ys for x in xs)
        if side / 2 < TILE_FACES * min_face or side / 2 < 32:
            return out
        side //= 2


class FaceMesh5:
    """MediaPipe's BlazeFace + Face Mesh on every call (static images: no tracking inside)."""

    name = "facemesh"

    def __init__(self) -> None:
        import mediapipe as mp

        self._det = mp.solutions.face_detection.FaceDetection(model_selection=0, min_detection_confidence=SCORE)
        self._mesh = mp.solutions.face_mesh.FaceMesh(static_image_mode=True, max_num_faces=1,
                                                     refine_landmarks=False, min_detection_confidence=SCORE)

    @staticmethod
    def version() -> str:
        return detector_version()

    def _boxes(self, img: np.ndarray, min_face: float) -> tuple[np.ndarray, np.ndarray]:
        h, w = img.shape[:2]
        boxes, scores = [], []
        for x0, y0, side in tiles(w, h, min_face):
            res = self._det.process(np.ascontiguousarray(img[y0:y0 + side, x0:x0 + side]))
            for d in res.detections or ():
                r = d.location_data.relative_bounding_box
                b = [x0 + r.xmin * side, y0 + r.ymin * side, x0 + (r.xmin + r.width) * side,
                     y0 + (r.ymin + r.height) * side]
                if b[2] - b[0] >= min_face:
                    boxes.append(b)
                    scores.append(float(d.score[0]))
        if not boxes:
            return np.zeros((0, 4)), np.zeros(0)
        boxes, scores = np.array(boxes), np.array(scores)
        keep = _nms(boxes, scores)
        return boxes[keep], scores[keep]

    def _mesh_in(self, img: np.ndarray, box: np.ndarray) -> np.ndarray | None:
        """The (468, 2) mesh (image px) of the face in a square window of WINDOW box sides around ``box``."""
        h, w = img.shape[:2]
        side = WINDOW * max(box[2] - box[0], box[3] - box[1])
        cx, cy = 0.5 * (box[0] + box[2]), 0.5 * (box[1] + box[3])
        x0, y0 = int(max(0, cx - side / 2)), int(max(0, cy - side / 2))
        x1, y1 = int(min(w, cx + side / 2)), int(min(h, cy + side / 2))
        if x1 - x0 < 16 or y1 - y0 < 16:
            return None
        res = self._mesh.process(np.ascontiguousarray(img[y0:y1, x0:x1]))
        if not res.multi_face_landmarks:
            return None
        lm = res.multi_face_landmarks[0].landmark
        # normalised to the window; x * width is the pixel-edge coordinate, - 0.5 the pixel-index one
        return np.array([[x0 + p.x * (x1 - x0) - 0.5, y0 + p.y * (y1 - y0) - 0.5] for p in lm])

    def detect(self, rgb: np.ndarray, min_face: float = 20.0) -> list[tuple[np.ndarray, float, np.ndarray]]:
        """All faces in an (H, W, 3) uint8 RGB image at least ``min_face`` px wide:
        [(box x0 y0 x1 y1, BlazeFace score, (5, 2) points px)]."""
        img = np.asarray(rgb)
        out = []
        boxes, scores = self._boxes(img, float(min_face))
        for box, score in zip(boxes, scores):
            mesh = self._mesh_in(img, box)
            if mesh is not None:
                out.append((np.concatenate([mesh.min(axis=0), mesh.max(axis=0)]), score, five_points(mesh)))
        return out
