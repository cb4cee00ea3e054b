"""A coarse mean 3-D face for the 68-point (iBUG 300-W) markup, defined here.

Units are roughly millimetres; x points to the image right, y down, z toward
the camera (the nose tip is the most positive z). The shape was laid out by
hand from generic facial proportions (eye spacing, nose length, mouth width,
a U-shaped jaw wrapping back toward the ears); it is not fitted to any
dataset. Pose estimation only needs a rigid body with realistic depth
relief; tests and benchmarks use it to synthesise landmarks of known pose.
"""

from __future__ import annotations

import numpy as np

__all__ = ["FACE_TEMPLATE", "MIRROR_INDEX", "FIVE_POINT_INDEX", "rotation_matrix", "project_template", "five_points",
           "similarity_fit", "crop_corners_in_image"]


def _build_template() -> np.ndarray:
    pts = np.zeros((68, 3))
    phi = np.linspace(0.0, np.pi, 17)
    pts[0:17] = np.stack([-68.0 * np.cos(phi), -5.0 + 65.0 * np.sin(phi), -45.0 + 35.0 * np.sin(phi)], 1)
    brow_x = np.linspace(-55.0, -15.0, 5)
    brow_y = -38.0 - 6.0 * np.sin(np.linspace(0.2, np.pi - 0.2, 5))
    brow_z = np.array([-2.0, 4.0, 8.0, 10.0, 10.0])
    pts[17:22] = np.stack([brow_x, brow_y, brow_z], 1)
    pts[22:27] = np.stack([-brow_x[::-1], brow_y[::-1], brow_z[::-1]], 1)
    pts[27:31] = np.stack([np.zeros(4), [-30.0, -18.0, -6.0, 6.0], [12.0, 20.0, 28.0, 36.0]], 1)
    pts[31:36] = np.stack([[-14.0, -7.0, 0.0, 7.0, 14.0], [12.0, 14.0, 15.0, 14.0, 12.0], [18.0, 24.0, 27.0, 24.0, 18.0]], 1)
    right_eye = [(-43, -22), (-36, -26), (-28, -26), (-21, -22), (-28, -19), (-36, -19)]
    pts[36:42, :2] = right_eye
    pts[36:42, 2] = [-4.0, 0.0, 1.0, 2.0, 1.0, 0.0]
    pts[42:48] = pts[[39, 38, 37, 36, 41, 40]] * np.array([-1.0, 1.0, 1.0])
    outer = [(-25, 35), (-16, 30), (-6, 28), (0, 29), (6, 28), (16, 30), (25, 35), (16, 41), (7, 44), (0, 45), (-7, 44), (-16, 41)]
    inner = [(-20, 35), (-7, 33), (0, 33), (7, 33), (20, 35), (7, 37), (0, 37), (-7, 37)]
    pts[48:60, :2] = outer
    pts[60:68, :2] = inner
    pts[48:68, 2] = 15.0 - 0.016 * pts[48:68, 0] ** 2  # the lips curve back toward the corners
    return pts


FACE_TEMPLATE: np.ndarray = _build_template()
FACE_TEMPLATE.setflags(write=False)

# Landmark i of a mirrored face is landmark MIRROR_INDEX[i] of the original.
MIRROR_INDEX: np.ndarray = np.array(
    list(range(16, -1, -1))
    + list(range(26, 16, -1))
    + [27, 28, 29, 30, 35, 34, 33, 32, 31]
    + [45, 44, 43, 42, 47, 46, 39, 38, 37, 36, 41, 40]
    + [54, 53, 52, 51, 50, 49, 48, 59, 58, 57, 56, 55]
    + [64, 63, 62, 61, 60, 67, 66, 65]
)

# Five-point alignment (image-left eye centre, image-right eye centre, nose tip, mouth corners).
FIVE_POINT_INDEX = (range(36, 42), range(42, 48), [30], [48], [54])


def rotation_matrix(yaw: float, pitch: float, roll: float) -> np.ndarray:
    """R = Rz(roll) @ Rx(pitch) @ Ry(yaw), angles in degrees (3x3 float64)."""
    y, p, r = np.radians([yaw, pitch, roll])
    ry = np.array([[np.cos(y), 0, np.sin(y)], [0, 1, 0], [-np.sin(y), 0, np.cos(y)]])
    rx = np.array([[1, 0, 0], [0, np.cos(p), -np.sin(p)], [0, np.sin(p), np.cos(p)]])
    rz = np.array([[np.cos(r), -np.sin(r), 0], [np.sin(r), np.cos(r), 0], [0, 0, 1]])
    return rz @ rx @ ry


def project_template(yaw: float = 0.0, pitch: float = 0.0, roll: float = 0.0, scale: float = 1.0, center=(0.0, 0.0)) -> np.ndarray:
    """(68, 2) weak-perspective image of ``FACE_TEMPLATE`` (centred) at the given pose."""
    centred = FACE_TEMPLATE - FACE_TEMPLATE.mean(axis=0)
    return scale * (centred @ rotation_matrix(yaw, pitch, roll).T)[:, :2] + np.asarray(center, float)


def five_points(landmarks68: np.ndarray) -> np.ndarray:
    """(5, 2) alignment points from (68, 2) landmarks (eye centres, nose tip, mouth corners)."""
    return np.stack([landmarks68[list(ix)].mean(axis=0) for ix in FIVE_POINT_INDEX])


def similarity_fit(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """(2, 3) float64 least-squares similarity mapping the (N, 2) points ``src`` onto ``dst``
    (x' = p x - q y + tx, y' = q x + p y + ty)."""
    n = len(src)
    a = np.zeros((2 * n, 4))
    a[0::2] = np.column_stack([src[:, 0], -src[:, 1], np.ones(n), np.zeros(n)])
    a[1::2] = np.column_stack([src[:, 1], src[:, 0], np.zeros(n), np.ones(n)])
    p, q, tx, ty = np.linalg.lstsq(a, dst.reshape(-1), rcond=None)[0]
    return np.array([[p, -q, tx], [q, p, ty]])


def crop_corners_in_image(m: np.ndarray, crop: float = 256.0) -> np.ndarray:
    """(4, 2) image positions of the corners (0, 0), (crop, 0), (0, crop), (crop, crop) of the
    crop that the (2, 3) image-to-crop matrix ``m`` cuts out (through m's inverse). For the
    stability metrics only; the ops invert their matrices in kernels/include/ffaccel/affine.h."""
    corners = np.array([[0, 0], [crop, 0], [0, crop], [crop, crop]], float)
    inv = np.linalg.inv(np.vstack([m, [0, 0, 1]]))[:2]
    return corners @ inv[:, :2].T + inv[:, 2]
