"""Face tracks: stable ids by bounding-box IoU, each track owning its filters.

Matching is greedy on IoU: all (track, detection) pairs at or above the
threshold are taken best-first, each track and detection at most once. For
the handful of faces in a frame this gives the Hungarian assignment in all
but contrived overlaps and costs microseconds.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ffaccel._checks import as_float_array, positive_int

__all__ = ["FaceTracker", "Track", "iou_matrix"]


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(len(a), len(b)) IoU of (x0, y0, x1, y1) boxes given as (M, 4) and (K, 4).

    Example:
        >>> import numpy as np
        >>> iou_matrix(np.array([[0, 0, 2, 2]]), np.array([[1, 0, 3, 2], [5, 5, 6, 6]])).round(3).tolist()
        [[0.333, 0.0]]
    """
    a = np.asarray(a, float).reshape(-1, 4)
    b = np.asarray(b, float).reshape(-1, 4)
    ix = np.clip(np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0]), 0, None)
    iy = np.clip(np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1]), 0, None)
    inter = ix * iy
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1.0), 0.0)


# Up to this many (track, detection) pairs the IoU is computed on Python floats: for the one
# or two faces of a webcam frame numpy's per-call overhead was most of the tracker's cost
# (about 0.1 ms of its 0.22 ms a frame with one face); the same operations in the same order,
# so the same values (tests/stability/test_stability_tracker.py checks both against each other).
_SMALL = 64


def _pairs_small(tracks: list, dets: list, threshold: float) -> list[tuple[int, int]]:
    """(track, detection) index pairs with IoU >= ``threshold``, best first (ties in row-major
    order): what ``iou_matrix`` and a stable sort give, for lists of (x0, y0, x1, y1)."""
    found = []
    for ti, a in enumerate(tracks):
        area_a = (a[2] - a[0]) * (a[3] - a[1])
        for di, b in enumerate(dets):
            ix = max(min(a[2], b[2]) - max(a[0], b[0]), 0.0)
            iy = max(min(a[3], b[3]) - max(a[1], b[1]), 0.0)
            inter = ix * iy
            union = area_a + (b[2] - b[0]) * (b[3] - b[1]) - inter
            iou = inter / union if union > 0 else 0.0
            if iou >= threshold:
                found.append((-iou, ti, di))
    found.sort()
    return [(ti, di) for _, ti, di in found]


@dataclass
class Track:
    """One face track. ``filter`` is this track's own filter (None without a factory)."""

    id: int
    box: np.ndarray
    filter: Any = None
    missed: int = 0
    age: int = 1
    landmarks: np.ndarray | None = field(default=None, repr=False)


class FaceTracker:
    """Assign stable ids to faces across frames and filter each face on its own.

    Args:
        iou_threshold: smallest IoU, in (0, 1], between a track's last box and
            a detection for them to match.
        max_missed: frames a track survives without a match (>= 0); after
            that it dies and its filter with it.
        filter_factory: called with no arguments to make the filter of each
            new track (e.g. ``TemporalSmoother``); None tracks ids only. Where
            the filters have a ``spawn()`` method (``LandmarkStabilizer``'s), a
            new track's filter is spawned from the filter of the longest-lived
            track matched in the latest frame that had one, so it starts with
            what that one learned of the detector's noise (why:
            ``LandmarkStabilizer.spawn``); the factory makes the first. A filter
            whose ``accepts_missed`` is true (``LandmarkStabilizer``) is given
            ``update(None, timestamp)`` for each frame its track goes unmatched
            and survives, so it knows how long the face was gone.

    Example:
        >>> import numpy as np
        >>> from ffaccel.stability import TemporalSmoother
        >>> tr = FaceTracker(filter_factory=TemporalSmoother)
        >>> box = np.array([[0.0, 0.0, 10.0, 10.0]])
        >>> pts = np.array([[[1.0, 1.0], [9.0, 1.0], [5.0, 9.0]]])
        >>> ids, out = tr.update(box, pts)
        >>> ids.tolist(), out.shape
        ([0], (1, 3, 2))
    """

    def __init__(self, iou_threshold: float = 0.3, max_missed: int = 5, filter_factory: Callable[[], Any] | None = None) -> None:
        if isinstance(iou_threshold, bool) or not isinstance(iou_threshold, (int, float, np.integer, np.floating)):
            raise TypeError(f"iou_threshold must be a real number, got {type(iou_threshold).__name__}")
        if not 0.0 < iou_threshold <= 1.0:
            raise ValueError(f"iou_threshold must be in (0, 1], got {iou_threshold}")
        if filter_factory is not None and not callable(filter_factory):
            raise TypeError("filter_factory must be callable or None")
        self.iou_threshold = float(iou_threshold)
        self.max_missed = positive_int(max_missed, "max_missed", minimum=0)
        self.filter_factory = filter_factory
        self.reset()

    def reset(self) -> None:
        """Drop all tracks, and the filter new ones would be spawned from; ids start again from 0."""
        self.tracks: list[Track] = []
        self._next_id = 0
        self._spawn_from: Any = None  # the filter new tracks' filters are spawned from (if it can)

    def _new_filter(self) -> Any:
        if self.filter_factory is None:
            return None
        src = getattr(self, "_spawn_from", None)  # (a tracker pickled before it existed has none)
        return src.spawn() if src is not None else self.filter_factory()

    def _match(self, boxes: np.ndarray) -> list[tuple[int, int]]:
        if not self.tracks or len(boxes) == 0:
            return []
        if len(self.tracks) * len(boxes) <= _SMALL:
            pairs = _pairs_small([t.box.tolist() for t in self.tracks], boxes.tolist(), self.iou_threshold)
        else:
            iou = iou_matrix(np.stack([t.box for t in self.tracks]), boxes)
            at = np.argwhere(iou >= self.iou_threshold)
            order = np.argsort(-iou[at[:, 0], at[:, 1]], kind="stable")
            pairs = [(int(ti), int(di)) for ti, di in at[order]]
        used_t: set[int] = set()
        used_d: set[int] = set()
        out = []
        for ti, di in pairs:
            if ti not in used_t and di not in used_d:
                used_t.add(ti)
                used_d.add(di)
                out.append((ti, di))
        return out

    def update(
        self, boxes: np.ndarray, landmarks: np.ndarray | None = None, timestamp: float | None = None
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """Match this frame's detections to tracks and filter their landmarks.

        Args:
            boxes: (M, 4) detections (x0, y0, x1, y1) in pixels, M >= 0.
            landmarks: (M, N, 2) landmarks of those detections, or None.
            timestamp: seconds, passed to each track's filter.

        Returns:
            ``(ids, filtered)``: (M,) int64 track ids in detection order, and
            (M, N, 2) float64 landmarks from each track's filter (the input
            when there is no factory), or None when no landmarks were given.
        """
        b = as_float_array(boxes, "boxes", (None, 4))
        if np.any((b[:, 2] < b[:, 0]) | (b[:, 3] < b[:, 1])):
            raise ValueError("boxes must have x1 >= x0 and y1 >= y0")
        lm = None
        if landmarks is not None:
            lm = as_float_array(landmarks, "landmarks", (len(b), None, 2))
        matches = self._match(b)
        matched_det = {d for _, d in matches}
        assigned: dict[int, Track] = {d: self.tracks[t] for t, d in matches}
        matched_tracks = {id(self.tracks[t]) for t, _ in matches}
        survivors = []
        for track in self.tracks:
            if id(track) in matched_tracks:
                track.missed = 0
                track.age += 1
                survivors.append(track)
            elif track.missed < self.max_missed:
                track.missed += 1
                survivors.append(track)
                if getattr(track.filter, "accepts_missed", False):
                    # its clock runs on: the next detection is this many frames (seconds) later
                    track.filter.update(None, timestamp)
            # else: the track dies and its filter state goes with it
        for d in range(len(b)):
            if d not in matched_det:
                flt = self._new_filter()
                track = Track(id=self._next_id, box=b[d].copy(), filter=flt)
                self._next_id += 1
                survivors.append(track)
                assigned[d] = track
        self.tracks = survivors
        spawners = [assigned[d] for d in range(len(b)) if callable(getattr(assigned[d].filter, "spawn", None))]
        if spawners:
            self._spawn_from = max(spawners, key=lambda t: t.age).filter
        ids = np.array([assigned[d].id for d in range(len(b))], dtype=np.int64)
        out = None if lm is None else np.empty_like(lm)
        for d in range(len(b)):
            track = assigned[d]
            track.box = b[d].copy()
            if lm is not None:
                res = lm[d] if track.filter is None else track.filter.update(lm[d], timestamp)
                track.landmarks = np.asarray(res, float)
                out[d] = track.landmarks
        return ids, out
