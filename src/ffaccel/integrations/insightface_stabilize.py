"""Optional landmark stabilisation for the insightface adapter (live video; off by default).

A :class:`~ffaccel.stability.FaceTracker` gives each face a stable id across frames and
its own causal filter; the filtered 5 points replace ``target_face.kps`` in the
alignment (``face_align.norm_crop2``) of ``INSwapper.get``. The filter comes from a
factory argument. The default is ffaccel's causal stabiliser
(``LandmarkStabilizer(mode="causal")``: scale-free, measured on real detector output,
docs/stability.md); a frame it refuses (5 points at one place, no face size) passes
unfiltered. ``TemporalSmoother`` or ``OneEuroFilter`` (both in ``ffaccel.stability``), or
any filter with the same ``update(points, timestamp)`` contract, can be passed instead.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ffaccel.stability import FaceTracker, LandmarkStabilizer

__all__ = ["KpsStabilizer"]

_KEY = "ffaccel_kps"


class _CausalKps:
    """A track's default filter: ``LandmarkStabilizer(mode="causal")``, or ``filter``. A frame
    it refuses with a ValueError (the 5 points at one place, say) is returned as given: the
    adapter never breaks the host's frame."""

    def __init__(self, filter: LandmarkStabilizer | None = None) -> None:
        self._filter = filter if filter is not None else LandmarkStabilizer(mode="causal")

    def spawn(self) -> _CausalKps:
        """Another face's filter, with this one's noise level (``LandmarkStabilizer.spawn``)."""
        return _CausalKps(self._filter.spawn())

    accepts_missed = True  # a frame its track goes unmatched: the filter's clock runs on

    def update(self, points: np.ndarray | None, timestamp: float | None = None) -> np.ndarray | None:
        if points is None:
            try:
                self._filter.update(None, timestamp)
            except ValueError:  # (a timestamp it refuses: as if the frame had not been)
                pass
            return None
        pts = np.asarray(points, np.float64)
        try:
            out = self._filter.update(pts, timestamp)
        except ValueError:
            return pts
        return pts if out is None else out


class KpsStabilizer:
    """Per-face causal smoothing of insightface's 5-point ``kps``.

    Where a live pipeline should call it: once per frame, right after face detection
    (``faces = face_analyser.get(frame)``), call ``stabilizer.update(faces)``; each
    face then carries its smoothed points and ``INSwapper.get`` (with the adapter
    installed with this stabiliser) aligns with them. Faces that were not passed to
    :meth:`update` are smoothed one call at a time (each ``get`` call counts as a frame
    with one face), which suits one-face streams.

    Args:
        filter_factory: makes each track's filter (``update(points, timestamp)``);
            default ffaccel's causal stabiliser (``LandmarkStabilizer(mode="causal")``,
            a refused frame passing unfiltered; each new track's spawned from the
            longest-lived track's, so it starts with the detector's noise level:
            ``FaceTracker``), e.g. ``ffaccel.stability.OneEuroFilter``.
        iou_threshold: smallest box IoU for a face to continue a track, in (0, 1].
        max_missed: frames a track survives unseen.

    Example:
        >>> import numpy as np
        >>> st = KpsStabilizer()
        >>> face = {"bbox": np.array([0.0, 0, 100, 100]), "kps": np.full((5, 2), 50.0)}
        >>> st.update([face])[0]["ffaccel_kps"].shape
        (5, 2)
    """

    def __init__(self, filter_factory: Callable[[], Any] | None = None, iou_threshold: float = 0.3,
                 max_missed: int = 5) -> None:
        self.tracker = FaceTracker(iou_threshold=iou_threshold, max_missed=max_missed,
                                   filter_factory=filter_factory or _CausalKps)

    def reset(self) -> None:
        """Forget every track, and the noise level learned from them (call for a new video)."""
        self.tracker.reset()

    def update(self, faces: Sequence[Any], timestamp: float | None = None) -> Sequence[Any]:
        """Smooth this frame's faces; each gets ``face["ffaccel_kps"]`` (and returns them)."""
        if len(faces) == 0:
            self.tracker.update(np.zeros((0, 4)), np.zeros((0, 5, 2)), timestamp)
            return faces
        boxes = np.stack([np.asarray(_get(f, "bbox"), np.float64)[:4] for f in faces])
        kps = np.stack([np.asarray(_get(f, "kps"), np.float64) for f in faces])
        _, smooth = self.tracker.update(boxes, kps, timestamp)
        for f, k, raw in zip(faces, smooth, kps, strict=True):
            f[_KEY] = k.astype(np.asarray(_get(f, "kps")).dtype) if raw.shape == k.shape else raw
        return faces

    def kps_for(self, img: Any, face: Any) -> np.ndarray:
        """The points ``INSwapper.get`` aligns with: those :meth:`update` gave, else smoothed now."""
        k = face.get(_KEY) if isinstance(face, dict) else getattr(face, _KEY, None)
        if k is not None:
            return k
        if _get(face, "bbox") is None:
            return face.kps
        return self.update([face])[0][_KEY]


def _get(face: Any, name: str) -> Any:
    return face.get(name) if isinstance(face, dict) else getattr(face, name, None)
