"""Split landmarks into a rigid similarity part and a per-point residual.

A frame's points ``z`` (N complex numbers x + iy, pixels) are written as

    z_i = c + a * (m_i + w_i)

where ``m`` is a fixed reference shape (centred, RMS radius 1: "face units"),
``c`` the centroid, ``a = s * exp(i * theta)`` the least-squares similarity
that takes ``m`` to the frame, and ``w`` the residual shape in face units
(expression, blinks, detector noise that is not rigid). Because ``m`` is
centred with sum |m|^2 = N, the least-squares fit is closed form:
``c = mean(z)``, ``a = sum(conj(m) * (z - c)) / N``, and ``w`` has zero mean
and no component along ``m`` or ``i * m``.

The filters see C = 4 + 2N real channels, all in face units so that nothing
depends on the face's size in pixels:

    0, 1   centroid x, y divided by the reference size ``size`` (px)
    2      log(s / size)
    3      theta (radians, unwrapped)
    4...   residual: Re w_0, Im w_0, Re w_1, ...
"""

from __future__ import annotations

import numpy as np

__all__ = ["reference_shape", "to_channels", "from_channels", "frame_channels", "frame_points"]


def _normalise(shape: np.ndarray) -> tuple[np.ndarray, float]:
    """Centre a complex (N,) shape and scale it to RMS radius 1; returns (shape, size px)."""
    centred = shape - shape.mean()
    size = float(np.sqrt(np.mean(np.abs(centred) ** 2)))
    if not size > 0:
        raise ValueError("landmarks: every point of a frame is at the same place (no face size)")
    return centred / size, size


def reference_shape(z: np.ndarray) -> tuple[np.ndarray, float]:
    """Procrustes mean shape of complex frames ``z`` (T, N) (all finite): (m, size px).

    One alignment pass onto the first frame, then the mean of the aligned
    shapes, centred and scaled to RMS radius 1. ``size`` is the mean RMS
    radius of the frames in pixels.
    """
    m0, _ = _normalise(z[0])
    centred = z - z.mean(axis=1, keepdims=True)
    a = (centred * np.conj(m0)).sum(axis=1) / z.shape[1]  # no BLAS call: tiny, and BLAS threads stall under load
    mean = (centred / a[:, None]).mean(axis=0)
    m, _ = _normalise(mean)
    size = float(np.mean(np.sqrt(np.mean(np.abs(centred) ** 2, axis=1))))
    return m, size


def to_channels(z: np.ndarray, m: np.ndarray, size: float, theta_ref: float | None = None) -> np.ndarray:
    """(T, N) complex frames (finite) -> (T, 4 + 2N) channels (see the module doc).

    theta is unwrapped along T, starting from the branch nearest ``theta_ref``.
    """
    t_len, n = z.shape
    c = z.mean(axis=1)
    centred = z - c[:, None]
    a = (centred * np.conj(m)).sum(axis=1) / n
    if np.any(a == 0):
        raise ValueError("landmarks: a frame has no similarity to the reference shape (degenerate points)")
    w = centred / a[:, None] - m
    out = np.empty((t_len, 4 + 2 * n))
    out[:, 0] = c.real / size
    out[:, 1] = c.imag / size
    out[:, 2] = np.log(np.abs(a) / size)
    theta = np.unwrap(np.angle(a))
    if theta_ref is not None and t_len:
        theta += 2 * np.pi * np.round((theta_ref - theta[0]) / (2 * np.pi))
    out[:, 3] = theta
    out[:, 4::2] = w.real
    out[:, 5::2] = w.imag
    return out


def from_channels(ch: np.ndarray, m: np.ndarray, size: float) -> np.ndarray:
    """(T, 4 + 2N) channels -> (T, N, 2) float64 points in pixels (NaN rows stay NaN)."""
    c = (ch[:, 0] + 1j * ch[:, 1]) * size
    a = np.exp(ch[:, 2] + 1j * ch[:, 3]) * size
    w = ch[:, 4::2] + 1j * ch[:, 5::2]
    z = c[:, None] + a[:, None] * (m[None, :] + w)
    return np.stack([z.real, z.imag], axis=-1)


_TWO_PI = 2.0 * np.pi


def frame_channels(z: np.ndarray, m: np.ndarray, size: float, theta_ref: float) -> np.ndarray:
    """One frame: complex (N,) points -> (4 + 2N,) channels, theta on the branch nearest ``theta_ref``.

    Same values as ``to_channels(z[None], m, size, theta_ref)[0]``, with fewer numpy calls
    (the causal filter's per-frame budget).
    """
    n = len(z)
    c = z.sum() / n
    centred = z - c
    a = (centred * m.conjugate()).sum() / n
    if a == 0:
        raise ValueError("landmarks: a frame has no similarity to the reference shape (degenerate points)")
    w = centred / a - m
    out = np.empty(4 + 2 * n)
    out[0] = c.real / size
    out[1] = c.imag / size
    out[2] = np.log(abs(a) / size)
    theta = float(np.angle(a))
    out[3] = theta + _TWO_PI * round((theta_ref - theta) / _TWO_PI)
    out[4::2] = w.real
    out[5::2] = w.imag
    return out


def frame_points(ch: np.ndarray, m: np.ndarray, size: float) -> np.ndarray:
    """One frame: (4 + 2N,) channels -> (N, 2) float64 pixels (``from_channels`` for one row)."""
    c = complex(ch[0], ch[1]) * size
    a = np.exp(complex(ch[2], ch[3])) * size
    z = c + a * (m + (ch[4::2] + 1j * ch[5::2]))
    out = np.empty((len(m), 2))
    out[:, 0] = z.real
    out[:, 1] = z.imag
    return out
