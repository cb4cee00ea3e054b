"""End-of-sequence guard: a steady last few frames for a clip of known length.

Why: the last frames of a clip are where smoothing filters run out of
context and per-frame parameters (colour gains, gamma, mask feather) are
estimated from less data, so the pasted face tends to pop. In the tail the
guard freezes those slow parameters and quantizes the alignment matrix with
hysteresis, so sub-quantum wobble cannot move the crop at all.

Hysteresis rule, per matrix entry with quantum q: the guard holds a multiple
of q. A new value moves the held value only when it crosses another quantum
boundary (|value - held| >= q); the held value then becomes the value
truncated toward ``held`` onto the grid, i.e. the last boundary it crossed.
Anything within one quantum of the held value is absorbed.

Where the translation is measured: an OpenCV matrix's translation column is
where the image origin lands, often a thousand pixels from the face, so one
rotation quantum there swings the face by ~1000/2048 px. The guard therefore
quantizes the crop position of a fixed image point (``anchor``: the image
point at the crop centre when the tail starts) instead of the raw column,
and rebuilds the column from it; the face then moves by at most about one
translation quantum plus one rotation quantum times its size.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ffaccel._checks import as_float_array, positive, positive_int

__all__ = ["EndOfSequenceGuard", "quantize_hysteresis"]


def quantize_hysteresis(value: np.ndarray, held: np.ndarray, quantum: np.ndarray | float) -> np.ndarray:
    """One hysteresis step: keep ``held`` unless ``value`` crossed another boundary.

    ``held`` must be multiples of ``quantum``. Where ``|value - held| >= q``
    the result is ``value`` truncated toward ``held`` onto the grid of q;
    elsewhere it is ``held``.

    Example:
        >>> import numpy as np
        >>> quantize_hysteresis(np.array([1.9, 2.1, -1.0]), np.array([1.0, 1.0, 0.0]), 1.0).tolist()
        [1.0, 2.0, -1.0]
    """
    q = np.asarray(quantum, float)
    up = q * np.floor(value / q + 1e-9)
    down = q * np.ceil(value / q - 1e-9)
    moved = np.where(value > held, up, down)
    return np.where(np.abs(value - held) >= q * (1 - 1e-9), moved, held)


class EndOfSequenceGuard:
    """Freeze slow parameters and quantize the affine matrix in a clip's tail.

    Args:
        tail_frames: length of the guarded tail in frames (>= 1).
        quant_rotation: quantum of the 2x2 linear part (rotation x scale), > 0.
        quant_translation: quantum of the translation column, in pixels, > 0.
        total_frames: clip length; may also be given later with
            ``set_length`` (the guard does nothing until it is known).
        anchor: (x, y) crop point, in crop pixels, whose position is quantized
            in place of the raw translation column (default: the centre of a
            256 px crop).

    ``update(matrix, frame_index, params)`` returns ``(matrix, params)``:
    before the tail both are passed through unchanged; from frame
    ``total_frames - tail_frames`` on, ``params`` (a dict of slow scalars or
    arrays such as colour gains, gamma, mask feather) is frozen at its value on
    the first tail frame, and the (2, 3) matrix is quantized with hysteresis
    (the 2x2 part entrywise, the translation at ``anchor``). Entering the tail
    moves the matrix by at most half a quantum.

    State: a (2, 3) float64 held matrix, the (2,) anchor point, the frozen
    params (~100 B without params).

    Example:
        >>> import numpy as np
        >>> g = EndOfSequenceGuard(tail_frames=2, total_frames=4)
        >>> m = np.array([[1.0, 0.0, 10.0], [0.0, 1.0, 20.0]])
        >>> a, _ = g.update(m, 2, {"gamma": 1.0})
        >>> wobble = np.array([[1e-4, -1e-4, 0.03], [1e-4, 1e-4, -0.03]])
        >>> b, params = g.update(m + wobble, 3, {"gamma": 2.0})
        >>> bool(np.array_equal(a, b)), params
        (True, {'gamma': 1.0})
    """

    def __init__(
        self,
        tail_frames: int = 12,
        quant_rotation: float = 1 / 2048,
        quant_translation: float = 1 / 16,
        total_frames: int | None = None,
        anchor: tuple[float, float] = (128.0, 128.0),
    ) -> None:
        self.tail_frames = positive_int(tail_frames, "tail_frames")
        q_rot = positive(quant_rotation, "quant_rotation")
        q_tr = positive(quant_translation, "quant_translation")
        self.quantum = np.array([[q_rot, q_rot, q_tr], [q_rot, q_rot, q_tr]])
        self.anchor = as_float_array(anchor, "anchor", (2,))
        self.total_frames: int | None = None
        if total_frames is not None:
            self.set_length(total_frames)
        self.reset()

    def set_length(self, total_frames: int) -> None:
        """Set the clip length in frames (>= 1)."""
        self.total_frames = positive_int(total_frames, "total_frames")

    def reset(self) -> None:
        """Leave the tail state (the clip length is kept)."""
        self._held: np.ndarray | None = None  # [L | crop position of _point], quantized
        self._point = np.zeros(2)  # image point fixed at tail entry
        self._frozen: dict[str, Any] | None = None

    def in_tail(self, frame_index: int) -> bool:
        """True when ``frame_index`` (0-based) lies in the guarded tail."""
        return self.total_frames is not None and frame_index >= self.total_frames - self.tail_frames

    def update(
        self, matrix: np.ndarray, frame_index: int, params: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any] | None]:
        """Guard one frame.

        Args:
            matrix: (2, 3) affine alignment matrix (finite).
            frame_index: 0-based index of this frame in the clip.
            params: slow per-frame parameters, or None.

        Returns:
            ``(matrix, params)``: the (2, 3) float64 matrix to use and the
            params to use (copies; the inputs are not modified).
        """
        m = as_float_array(matrix, "matrix", (2, 3))
        idx = positive_int(frame_index, "frame_index", minimum=0)
        if params is not None and not isinstance(params, dict):
            raise TypeError(f"params must be a dict or None, got {type(params).__name__}")
        if not self.in_tail(idx):
            self.reset()
            return m.copy(), None if params is None else dict(params)
        lin = m[:, :2]
        if self._held is None:
            det = np.linalg.det(lin)
            if abs(det) < 1e-12:
                raise ValueError("matrix must have an invertible 2x2 part")
            self._point = np.linalg.solve(lin, self.anchor - m[:, 2])
        param = np.concatenate([lin, (lin @ self._point + m[:, 2])[:, None]], axis=1)
        if self._held is None:
            self._held = self.quantum * np.round(param / self.quantum)
            self._frozen = None if params is None else {k: np.copy(v) if isinstance(v, np.ndarray) else v for k, v in params.items()}
        else:
            self._held = quantize_hysteresis(param, self._held, self.quantum)
        if self._frozen is None:
            out_params = None if params is None else dict(params)
            if params is not None:
                self._frozen = dict(params)
        else:
            out_params = dict(self._frozen)
        held_lin = self._held[:, :2]
        out = np.concatenate([held_lin, (self._held[:, 2] - held_lin @ self._point)[:, None]], axis=1)
        return out, out_params
