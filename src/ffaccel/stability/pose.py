"""Head pose from 68 landmarks, a bias-corrected EMA pose filter with a
deadband, and the map from a filtered pose back to an alignment matrix.

Method (``estimate_pose``): a weak-perspective fit of ffaccel's own coarse
mean 3-D face (``_face.FACE_TEMPLATE``). The least-squares 2x3 affine map from
the centred template to the centred landmarks is solved in closed form, its
two rows are replaced by the nearest pair of equal-length orthonormal rows
(SVD), and the rotation R = Rz(roll) Rx(pitch) Ry(yaw) is read off the
completed 3x3 matrix. Scale is the mean singular value, i.e. image pixels per
template unit (about px per mm). Angles are those of the template, so for a
real face yaw and pitch carry the template's shape bias (a few degrees); they
are consistent frame to frame, which is what filtering needs.
"""

from __future__ import annotations

import numpy as np

from ffaccel._checks import as_float_array, as_points, positive
from ._face import FACE_TEMPLATE

__all__ = ["estimate_pose", "PoseFilter", "pose_to_similarity"]

_CENTRED = FACE_TEMPLATE - FACE_TEMPLATE.mean(axis=0)
_PINV = np.linalg.pinv(_CENTRED)  # (3, 68): affine fit in one product


def estimate_pose(landmarks: np.ndarray) -> np.ndarray:
    """Yaw, pitch, roll (degrees) and scale (px per template unit) of a face.

    Args:
        landmarks: (68, 2) iBUG 68-point landmarks in pixels (finite).

    Returns:
        (4,) float64 ``[yaw, pitch, roll, scale]``. Roll is the in-image
        rotation from +x toward +y (clockwise on screen, y down); yaw turns the
        nose toward +x; pitch turns it toward +y.

    Example:
        >>> from ffaccel.stability._face import project_template
        >>> pose = estimate_pose(project_template(yaw=20, pitch=-5, roll=10, scale=2.0))
        >>> [round(float(v), 3) for v in pose]
        [20.0, -5.0, 10.0, 2.0]
    """
    pts = as_points(landmarks, "landmarks", n=68)
    affine = ((pts - pts.mean(axis=0)).T @ _PINV.T)  # (2, 3)
    u, s, vt = np.linalg.svd(affine, full_matrices=False)
    rows = u @ vt
    rot = np.vstack([rows, np.cross(rows[0], rows[1])])
    pitch = np.degrees(np.arcsin(np.clip(rot[2, 1], -1.0, 1.0)))
    yaw = np.degrees(np.arctan2(-rot[2, 0], rot[2, 2]))
    roll = np.degrees(np.arctan2(-rot[0, 1], rot[1, 1]))
    return np.array([yaw, pitch, roll, s.mean()])


class PoseFilter:
    """Bias-corrected EMA of head pose with a deadband (causal).

    ``update`` takes 68 landmarks like the landmark filters and returns the
    filtered pose; ``update_pose`` takes a pose computed elsewhere. The EMA
    ``m = beta * m + (1 - beta) * pose`` is divided by ``1 - beta**k`` after k
    frames (Adam-style bias correction), so the first frames are not pulled
    toward zero. The deadband then holds each output component until the
    corrected EMA leaves it: by more than ``deadband[i]`` degrees for yaw,
    pitch, roll, and by more than the relative amount ``deadband[3]`` for
    scale (0.002 = 0.2 %). Roll is unwrapped so +179 -> -179 is a 2 degree step.

    Args:
        beta: EMA memory in [0, 1); 0 is no smoothing.
        deadband: (yaw_deg, pitch_deg, roll_deg, relative_scale), each >= 0.

    State: 2 x 4 float64 and a counter (< 100 B).

    Example:
        >>> from ffaccel.stability._face import project_template
        >>> f = PoseFilter()
        >>> _ = f.update(project_template(yaw=10, scale=3.0))
        >>> bool(f.update(project_template(yaw=10.3, scale=3.0))[0] == f.pose[0])
        True
    """

    def __init__(self, beta: float = 0.85, deadband: tuple[float, float, float, float] = (0.5, 0.5, 0.5, 0.002)) -> None:
        if isinstance(beta, bool) or not isinstance(beta, (int, float, np.integer, np.floating)):
            raise TypeError(f"beta must be a real number, got {type(beta).__name__}")
        if not 0.0 <= beta < 1.0:
            raise ValueError(f"beta must be in [0, 1), got {beta}")
        self.beta = float(beta)
        band = as_float_array(deadband, "deadband", (4,))
        if np.any(band < 0):
            raise ValueError(f"deadband must be >= 0 in every component, got {tuple(band)}")
        self.deadband = band
        self.reset()

    def reset(self) -> None:
        """Forget everything: the next update starts a fresh track."""
        self._ema = np.zeros(4)
        self._held: np.ndarray | None = None
        self._count = 0

    @property
    def pose(self) -> np.ndarray | None:
        """The last output ``[yaw, pitch, roll, scale]`` or None before the first update."""
        return None if self._held is None else self._held.copy()

    @property
    def state_nbytes(self) -> int:
        """Bytes of filter state."""
        return self._ema.nbytes + 4 * 8 + 8

    def update(self, points: np.ndarray, timestamp: float | None = None) -> np.ndarray:
        """Estimate the pose of (68, 2) landmarks and filter it; returns (4,) float64.

        ``timestamp`` is accepted for interchangeability with the landmark
        filters and not used: the EMA is per frame.
        """
        return self.update_pose(estimate_pose(points))

    def update_pose(self, pose: np.ndarray) -> np.ndarray:
        """Filter a ``[yaw, pitch, roll, scale]`` pose (degrees, scale > 0)."""
        p = as_float_array(pose, "pose", (4,)).copy()
        if p[3] <= 0:
            raise ValueError(f"pose scale must be > 0, got {p[3]}")
        if self._held is not None:  # unwrap roll against the running estimate
            ref = self._ema[2] / (1.0 - self.beta**self._count)
            p[2] = ref + (p[2] - ref + 180.0) % 360.0 - 180.0
        self._count += 1
        self._ema = self.beta * self._ema + (1.0 - self.beta) * p
        est = self._ema / (1.0 - self.beta**self._count)
        if self._held is None:
            self._held = est.copy()
        else:
            move = np.abs(est - self._held)
            move[3] = abs(est[3] / self._held[3] - 1.0)
            self._held = np.where(move > self.deadband, est, self._held)
        out = self._held.copy()
        out[2] = (out[2] + 180.0) % 360.0 - 180.0
        return out


def pose_to_similarity(matrix: np.ndarray, pose: np.ndarray, filtered_pose: np.ndarray, pivot: np.ndarray) -> np.ndarray:
    """Put a filtered roll and scale into a 5-point alignment matrix.

    The alignment matrix ``M = [L | t]`` maps image pixels to crop pixels
    (OpenCV convention) and was estimated from the same frame's landmarks,
    whose pose is ``pose``. Its rotation and scale are swapped for the
    filtered ones, ``L' = (s / s_f) * L @ Rot(roll - roll_f)``, and its
    translation is set so the image point ``pivot`` keeps its crop position.
    Yaw and pitch cannot be expressed by a similarity and are left out.

    Args:
        matrix: (2, 3) image-to-crop affine matrix.
        pose, filtered_pose: (4,) ``[yaw, pitch, roll, scale]``, degrees and
            px per template unit (``estimate_pose``, ``PoseFilter``).
        pivot: (2,) image point in pixels that must not move in the crop, e.g.
            the centroid of the five alignment points.

    Returns:
        (2, 3) float64 matrix.

    Example:
        >>> import numpy as np
        >>> m = np.array([[0.5, 0.0, 10.0], [0.0, 0.5, 20.0]])
        >>> p = np.array([0.0, 0.0, 0.0, 2.0])
        >>> pose_to_similarity(m, p, p, np.array([50.0, 50.0])).tolist() == m.tolist()
        True
    """
    m = as_float_array(matrix, "matrix", (2, 3))
    raw = as_float_array(pose, "pose", (4,))
    flt = as_float_array(filtered_pose, "filtered_pose", (4,))
    piv = as_float_array(pivot, "pivot", (2,))
    positive(raw[3], "pose scale")
    positive(flt[3], "filtered_pose scale")
    theta = np.radians(raw[2] - flt[2])
    rot = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
    lin = (raw[3] / flt[3]) * (m[:, :2] @ rot)
    target = m[:, :2] @ piv + m[:, 2]
    return np.concatenate([lin, (target - lin @ piv)[:, None]], axis=1)
