"""The offline mode's end of a shot: a straight line where the smoothed tail is straight.

The level bank has no frames after a shot's last one (the end of the track, or a cut):
there its estimate is one-sided (each level reflects the track about a straight line
fitted to its last frames), so the last few frames carry more of the detector's noise
than the middle of the track. On the real MTCNN tracks of a still head (frontal photos)
the aligned crop moved by 0.15, 0.20, 0.25 and 0.28 % of the face width on the last four
frames, on average, against 0.15 % F a frame mid-clip, and by up to 1.3 % F on single ones
(with this step: 0.07-0.10 % F, at most 0.7).

In the last ``END_FRAMES`` frames, each channel of the smoothed track (centroid, log
scale, rotation, residual shape: the rigid split of ``_rigid``, face units) is compared
with the straight line through its value one frame before the tail (kept, so the track
does not jump where the tail starts) whose slope fits the tail best (least squares). Where
the tail's median departure from that line is at most ``END_KAPPA`` noise standard
deviations of the channel (the detector's noise level, estimated from the track's own
detections as the level bank does), the tail becomes the line; at twice that, it stays as
smoothed; in between, a linear blend. The median, not the largest departure: the last
frames' wobble (what the line replaces) and a detector glitch the smoother followed
depart on a few frames only, a head that moves along a curve on most of them. A head at
rest, or panning, ends on a straight line: no pop at the end, and a pan's velocity is
kept. A head still moving along a curve (a shake) fails the test in the channels that
curve and keeps the bank's estimate there.
Every quantity is in face units or noise standard deviations, frames are the time unit.
"""

from __future__ import annotations

import functools

import numpy as np

from ffaccel import _core

from . import _bank

__all__ = ["END_FRAMES", "END_KAPPA", "straighten_end"]

#: Frames at the end of a track that may become a straight line.
END_FRAMES = 12
#: Largest median departure of the smoothed tail from the line, in noise standard deviations
#: of the channel, at which the tail fully becomes the line (none beyond twice this).
END_KAPPA = 0.35
#: Most recent detections the noise level is estimated from (of the last twice as many frames).
_NOISE_FRAMES = 48


def straighten_end(out: np.ndarray, det: np.ndarray, first: int, stop: int, floor: np.ndarray,
                   times: np.ndarray | None = None, frames: int = END_FRAMES) -> None:
    """Straighten, in place, the last ``frames`` smoothed rows of the shot ``first:stop``.

    Args:
        out: (T, N, 2) float64 smoothed points (the offline mode's result; NaN rows
            after the shot's last detection are left alone). Modified in place.
        det: (T, N, 2) the detections ``out`` was smoothed from (NaN rows: missed).
        first, stop: the shot's frames (no frame outside them is read or written).
        floor: (4 + 2N,) noise-variance floors of the channels.
        times: (T,) timestamps or None (frame index as time).
        frames: frames to treat (0: none).
    """
    if frames <= 0:
        return
    # the compiled halves (kernels/cpu/stab_ends.cpp), numpy's operations in this order:
    # find the tail and the recent detections, split them (stab_rigid, one reference shape),
    # the detections' noise level; then (numpy: the BLAS library's summation order) the
    # least-squares slope's numerator; then the line, the median departure, the weights and
    # the way back. work: cen = ch - ch[0] (first, the rows the product reads), ch, sd, m.
    work = np.empty((2 * frames + 4, 4 + 2 * out.shape[1]))
    start, size = _core.stab_end_prepare(out, det, first, stop, frames, _NOISE_FRAMES, floor, _bank._MAD_TO_SIGMA2,
                                         work)
    if start < 0:
        return
    if times is None:
        t, tt = _frame_times(frames)
    else:
        t = times[start:start + frames + 1] - times[start]  # (the line does not depend on the time unit)
        tt = float(t @ t)
    _core.stab_end_finish(work, t @ work[:frames + 1], tt, t, END_KAPPA, size, out[start + 1:start + frames + 1])


@functools.lru_cache(maxsize=8)
def _frame_times(frames: int) -> tuple[np.ndarray, float]:
    """(frames + 1,) float64 0, 1, ..., frames (read-only), the tail's times without
    timestamps, and t @ t."""
    t = np.arange(frames + 1, dtype=np.float64)
    t.flags.writeable = False
    return t, float(t @ t)
