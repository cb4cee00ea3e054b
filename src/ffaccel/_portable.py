"""Roots, powers and sums that give the same bits with numpy (CPU) and cupy (GPU).

Why: array-level ops (``color_transfer``) run the same Python code on numpy and on cupy.
The basic IEEE operations (``+ - * /``, ``sqrt``, comparisons, ``frexp``, ``ldexp``, ``rint``)
are correctly rounded on both, one array operation at a time, so a chain of them gives
the same bits on both. Two things do not:

- transcendental functions: numpy's ``cbrt`` and ``**`` call libm or SIMD (SVML) versions
  whose last bit depends on the CPU, cupy's call CUDA's (``powf`` is within 4 ulp, not
  correctly rounded);
- reductions: numpy sums pairwise in blocks, cupy in a tree, so a float sum's last bits
  depend on the backend (a float32 sum by far more than one ulp).

Here roots are Newton iterations made of basic operations only (each a separate array
operation, so no fused multiply-add can change a rounding), and sums are exact: every
float64 term is split into two int64 fixed-point parts, which add associatively, so the
order of the reduction cannot change the result.

Example:
    >>> import numpy as np
    >>> from ffaccel import _portable
    >>> _portable.root(np, np.array([27.0, 0.125, 2.0]), 3).tolist()
    [3.0, 0.5, 1.2599210498948732]
    >>> _portable.exact_sums(np, np.array([[1e16, 1.0], [1.0, 2.0], [-1e16, 3.0]]))
    [1.0, 6.0]
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

__all__ = ["root", "exact_sums", "EXACT_SUM_MAX_TERMS"]

# Initial guess of m ** (1 / n) for 0.5 <= m < 1: a quadratic (c2, c1, c0) within 8e-4,
# and 2 ** (r / n) for r = 0..n-1. Literals, so every backend starts from the same guess.
_GUESS: dict[int, tuple[tuple[float, float, float], tuple[float, ...]]] = {
    3: ((-0.187347, 0.69138, 0.495471), (1.0, 1.25992105, 1.587401052)),
    5: ((-0.140982, 0.468549, 0.672032), (1.0, 1.148698355, 1.319507911, 1.515716567, 1.741101127)),
}
_NEWTON_STEPS = 3  # 8e-4 -> ~1e-6 -> ~1e-12 -> below float64 precision


def root(xp: Any, x: Any, n: int) -> Any:
    """``x ** (1 / n)`` (n = 3 or 5) of a float64 array, elementwise, from basic operations only.

    Exact to about one float64 ulp for positive normal ``x`` (ample for float32 results);
    0 gives 0 and +inf gives +inf, NaN gives NaN. Negative ``x`` is not supported (callers
    clamp first). The same bits with numpy and cupy by construction.
    """
    (c2, c1, c0), pow2 = _GUESS[n]
    finite = xp.isfinite(x) & (x > 0)
    xs = xp.where(finite, x, 1.0)
    m, e = xp.frexp(xs)  # xs = m * 2**e, 0.5 <= m < 1: exact
    e = e.astype(xp.int32) + np.int32(n * 1100)  # >= 0, so floor division is unambiguous
    q = e // np.int32(n)
    r = e - q * np.int32(n)  # 0 <= r < n
    a = m * xp.asarray(np.array([2.0 ** k for k in range(n)]))[r]  # exact: m * 2**r
    y = (m * c2 + c1)
    y = (y * m + c0) * xp.asarray(np.array(pow2))[r]
    for _ in range(_NEWTON_STEPS):  # y <- ((n - 1) y + a / y**(n - 1)) / n
        p = y * y
        if n == 5:
            p = p * p
        y = (y * float(n - 1) + a / p) / float(n)
    y = xp.ldexp(y, (q - np.int32(1100)).astype(xp.int32))  # exact: times 2**(q - 1100)
    return xp.where(finite, y, xp.where(x == 0, 0.0, x))  # 0 -> 0; inf, NaN as they are


#: Terms one exact_sums column may hold (the int64 budget is split over them).
EXACT_SUM_MAX_TERMS = 2 ** 30


def exact_sums(xp: Any, terms: Any) -> list[float]:
    """Column sums of a finite (N, k) float64 array as host floats, independent of summation order.

    Each column j is scaled by a power of two ``2**K_j`` chosen from its largest magnitude
    (a max is exact in any order) so that N terms fit an int64. Each scaled term t is
    split into ``hi = rint(t)`` and ``lo = rint((t - hi) * 2**M)`` (both exact steps; ``t
    - hi`` is exact), and hi and lo are summed as int64 (exact: the scales keep every
    partial sum below 2**62). Each term is thereby rounded to a quantum ``2**-(K_j + M)``
    of at most ``4 * max|term| * N**2 * 2**-124``, so the sum is within ``N`` half-quanta
    (2e-19 of the largest term for a 1024 x 1024 crop) of the exact sum of the
    terms, and that sum, rounded once to float64 on the host, is the result.

    Two device reads (the maxima, then the sums). Raises ValueError for N above
    :data:`EXACT_SUM_MAX_TERMS` (2**30) or a non-finite term.
    """
    n = int(terms.shape[0])
    k = int(terms.shape[1])
    if n > EXACT_SUM_MAX_TERMS:
        raise ValueError(f"terms: expected at most {EXACT_SUM_MAX_TERMS} terms per sum, got {n}")
    if n == 0:
        return [0.0] * k
    amax = _to_host(xp.abs(terms).max(axis=0))
    if not np.all(np.isfinite(amax)):
        raise ValueError("terms: expected finite values, got NaN or infinity")
    nbits = n.bit_length()  # n < 2**nbits
    scales, exps = [], []
    for v in amax.tolist():
        e = math.frexp(v)[1] if v > 0 else 0  # v < 2**e
        # |t| * 2**K < 2**(62 - nbits): n terms sum below 2**62. float32-derived terms are
        # below 2**260, so K stays far above float64's smallest exponent; K is capped so
        # that 2**K is a float (columns below 2**-960 sum to 0).
        kk = min(62 - nbits - e, 1000)
        exps.append(kk)
        scales.append(math.ldexp(1.0, kk))
    m_bits = 62 - nbits  # |t - hi| <= 1/2: n of them times 2**M stay below 2**62 too
    scaled = terms * xp.asarray(np.array(scales))  # exact: powers of two
    hi = xp.rint(scaled)
    lo = xp.rint((scaled - hi) * math.ldexp(1.0, m_bits))
    sums = _to_host(xp.stack([hi.astype(xp.int64).sum(axis=0), lo.astype(xp.int64).sum(axis=0)]))
    out = []
    for j in range(k):
        total = (int(sums[0, j]) << m_bits) + int(sums[1, j])  # Python int: exact
        out.append(_int_times_pow2(total, -(exps[j] + m_bits)))
    return out


def _int_times_pow2(i: int, p: int) -> float:
    """``i * 2**p`` rounded once to float64 (Python ints: exact until the one rounding)."""
    if i == 0:
        return 0.0
    if p >= 0:
        return float(i << p)
    return i / (1 << -p)  # int / int: correctly rounded


def _to_host(a: Any) -> np.ndarray:
    return a.get() if hasattr(a, "get") else np.asarray(a)
