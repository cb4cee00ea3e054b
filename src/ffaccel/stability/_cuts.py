"""Scene-cut rule shared by every mode of ``stabilize_track`` (scale-free).

A frame starts a new shot when, against the previous measured frame ``p``
(and the one before it, ``pp``, for a velocity), any of these holds:

- its centroid is more than ``MOVE`` RMS radii (of frame p's points about
  their centroid) from where the previous velocity puts it: a fast nod moves
  about 0.3 radii per frame per frame of acceleration, a cut to another face
  elsewhere several radii;
- its RMS radius changed by more than a factor ``ZOOM``;
- its points turned by more than ``TURN`` radians against frame p's;
- its shape (points normalised for position, size and rotation) differs from
  frame p's by more than ``SHAPE`` (RMS, in radii).

All four are ratios or angles, so the rule does not depend on the face's
size in pixels.

Offline, a *detector excursion* is told from a cut by what follows it
(``excursions``): a run of at most ``EXCURSION`` frames that starts like a cut
and ends where the face is back where it was before the run (the same rule,
applied across the run, finds no cut) is the detector locking onto something
else (another object while the face is covered, say), not a new shot. The fixed-lag mode
applies the same test within its look-ahead (``_excursion_watch``).
"""

from __future__ import annotations

import cmath
import math

import numpy as np

__all__ = ["MOVE", "ZOOM", "TURN", "SHAPE", "EXCURSION", "frame_features", "is_cut", "cut_flags", "excursions"]

MOVE = 1.5
ZOOM = 1.5
TURN = 0.6
SHAPE = 0.35
_LOG_ZOOM = math.log(ZOOM)
#: Longest detector excursion, frames (0.4 s at 30 fps). Why: on the real-detector benchmark
#: MTCNN locked onto another object for 1-3 frames while the cameraman's face was covered,
#: after 0-7 missed frames (docs/stability.md, "Detector excursions"); a real shot this short
#: that returns to the same place, size and pose is rarer than such a lock-on.
EXCURSION = 12


def frame_features(z: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Complex (T, N) frames -> centroid (T,), RMS radius (T,), normalised shape (T, N)."""
    n = z.shape[-1]
    c = z.sum(axis=-1) / n
    centred = z - c[..., None]
    s = np.sqrt((centred.real**2 + centred.imag**2).sum(axis=-1) / n)
    u = centred / np.where(s > 0, s, 1.0)[..., None]
    return c, s, u


def is_cut(c: complex, s: float, u: np.ndarray, prev: tuple, before: tuple | None, gap: int, gap_before: int) -> bool:
    """The rule for one frame (see the module doc). ``prev``/``before`` are (c, s, u).

    Plain Python scalars where it can (the causal filter's per-frame budget)."""
    cp, sp, up = prev
    s, sp = float(s), float(sp)
    if sp <= 0 or s <= 0:
        return False
    c, cp = complex(c), complex(cp)
    pred = cp
    if before is not None:
        pred = cp + (cp - complex(before[0])) * (gap / gap_before)
    if abs(c - pred) > MOVE * sp * max(gap, 1) ** 0.5:
        return True
    if abs(math.log(s / sp)) > _LOG_ZOOM:
        return True
    n = len(u)
    a = complex(np.vdot(up, u)) / n
    if a == 0 or abs(cmath.phase(a)) > TURN:
        return True
    d = u - (a / abs(a)) * up
    return math.sqrt(float(np.vdot(d, d).real) / n) > SHAPE


def cut_flags(z: np.ndarray, valid: np.ndarray) -> list[int]:
    """Frames of complex (T, N) ``z`` (rows valid where ``valid``) that start a new shot."""
    idx = np.flatnonzero(valid)
    if len(idx) < 2:
        return []
    c, s, u = frame_features(z[idx])
    cp, sp, up = c[:-1], s[:-1], u[:-1]
    cc, sc, uc = c[1:], s[1:], u[1:]
    gap = np.diff(idx).astype(np.float64)
    pred = cp.copy()
    vel_ok = np.zeros(len(cp), bool)
    vel_ok[1:] = True
    gap_before = np.ones_like(gap)
    gap_before[1:] = gap[:-1]
    pred[1:] = cp[1:] + (cp[1:] - c[:-2]) * (gap[1:] / gap_before[1:])
    good = (sp > 0) & (sc > 0)
    sp_safe = np.where(good, sp, 1.0)
    sc_safe = np.where(good, sc, 1.0)
    move = np.abs(cc - pred) > MOVE * sp_safe * np.sqrt(np.maximum(gap, 1.0))
    zoom = np.abs(np.log(sc_safe / sp_safe)) > np.log(ZOOM)
    a = np.sum(np.conj(up) * uc, axis=1) / u.shape[1]
    absa = np.abs(a)
    turn = (absa == 0) | (np.abs(np.angle(a)) > TURN)
    rot = np.where(absa > 0, a / np.where(absa > 0, absa, 1.0), 1.0)
    shape = np.sqrt(np.mean(np.abs(uc - rot[:, None] * up) ** 2, axis=1)) > SHAPE
    flag = good & (move | zoom | turn | shape)
    # A cut also resets the velocity: the frame after a cut predicts from the cut frame alone.
    # Re-evaluate "move" for frames right after a flagged one without the velocity term.
    after = np.zeros_like(flag)
    after[1:] = flag[:-1]
    if after.any():
        move2 = np.abs(cc - cp) > MOVE * sp_safe * np.sqrt(np.maximum(gap, 1.0))
        flag = np.where(after, good & (move2 | zoom | turn | shape), flag)
    return [int(i) for i in idx[1:][flag]]


def excursions(z: np.ndarray, valid: np.ndarray, starts: list[int], limit: int = EXCURSION) -> list[tuple[int, int]]:
    """Detector excursions among the shot starts ``starts`` of complex (T, N) ``z``.

    An excursion is frames ``[a, b)``: ``a`` and ``b`` are shot starts (ascending) with
    ``b - a <= limit``, and frame ``b`` is no cut against the last measured frame ``p``
    before ``a`` by :func:`is_cut` with the gap ``b - p`` (and the velocity from the
    measured frame before ``p``, unless ``p`` starts a shot itself or is the first): the
    face is back where it was. The first such ``b`` after ``a`` ends it; the search then
    goes on after ``b``. Returns the runs in order (none overlap).
    """
    idx = np.flatnonzero(valid)
    shot_starts = set(starts)
    out: list[tuple[int, int]] = []
    k = 0
    while k < len(starts):
        a = starts[k]
        before_a = idx[idx < a]
        end = None
        if len(before_a):
            p = int(before_a[-1])
            pp = int(before_a[-2]) if len(before_a) > 1 and p not in shot_starts else None
            feats = frame_features(z[[p] + ([pp] if pp is not None else [])])
            prev = (feats[0][0], feats[1][0], feats[2][0])
            before = (feats[0][1], feats[1][1], feats[2][1]) if pp is not None else None
            for j in range(k + 1, len(starts)):
                b = starts[j]
                if b - a > limit:
                    break
                c, s, u = frame_features(z[b:b + 1])
                if not is_cut(c[0], s[0], u[0], prev, before, b - p, p - pp if pp is not None else 1):
                    end = j
                    break
        if end is None:
            k += 1
        else:
            out.append((a, starts[end]))
            k = end + 1
    return out
