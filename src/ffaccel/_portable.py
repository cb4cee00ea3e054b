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

Here roots are Newton iterations made of basic operations only (each rounded on its own:
no fused multiply-add can change a rounding), and sums are exact: every
float64 term is split into two int64 fixed-point parts, which add associatively, so the
order of the reduction cannot change the result.

Example:
    >>> import numpy as np
    >>> from ffaccel import _portable
    >>> _portable.root(np, np.array([27.0, 0.125, 2.0]), 3).tolist()
    [3.0, 0.5, 1.2599210498948732]
    >>> _portable.exact_sums(np, np.array([[1e16, 1.0, -1e16], [1.0, 2.0, 3.0]]))
    [1.0, 6.0]
"""

from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np

from ffaccel import _core

__all__ = ["root", "exact_sums", "EXACT_SUM_MAX_TERMS"]

# Initial guess of x ** (1 / n) from x's bits: bits // n + MAGIC[n] divides the exponent by n
# and interpolates the mantissa linearly (within 3.4 % for every positive normal float64).
# Integer arithmetic: the same guess on every backend.
_MAGIC = {n: int(round(((1 - 1 / n) * 1023 - c) * 2 ** 52)) for n, c in ((3, 0.0335), (5, 0.0365))}
_NEWTON_STEPS = 4  # 3.4e-2 -> 2e-3 -> 1e-5 -> 2e-10 -> below float64 precision
_SUM_BLOCK = 4096  # numpy: terms per row per block of exact_sums (a block's temporaries stay in the CPU's cache)


def root(xp: Any, x: Any, n: int) -> Any:
    """``x ** (1 / n)`` (n = 3 or 5) of an array as float64, elementwise, from basic operations only.

    Within a few float64 ulps for positive normal ``x`` (ample for float32 results); 0,
    +inf, NaN and negative values are returned as they are (callers clamp first). The
    same bits with numpy and cupy by construction: an integer guess from the bits, then
    Newton steps ``y <- ((n - 1) y + x / y**(n - 1)) / n``, each operation rounded on its
    own: a compiled loop for numpy arrays, one elementwise kernel on cupy (both built
    without contraction), the chain of array operations otherwise.
    """
    x = xp.ascontiguousarray(x, dtype=xp.float64)
    if xp is not np:
        if FUSED_CUPY_ROOT and getattr(xp, "__name__", "") == "cupy":
            return _cupy_root_kernel()(x, n, _MAGIC[n], _NEWTON_STEPS)
        return _root(xp, x, n)
    out = np.empty(x.shape)
    # the compiled loop (kernels/include/ffaccel/portable_root.h): the same operations in the
    # same order, built without contraction, so the same bits as _root (tests/test_portable.py)
    _core.portable_root(x, out, n, _MAGIC[n], _NEWTON_STEPS)
    return out


#: cupy: run the guess and the Newton steps in one elementwise kernel instead of about 25
#: array operations (kernel launches) per root. The kernel performs the same IEEE operations
#: in the same order as ``_root``, compiled with ``--fmad=false`` so that no multiply and add
#: are fused: the same bits (tests/test_portable_cuda.py compares both ways bit for bit).
FUSED_CUPY_ROOT = True

_ROOT_OPERATION = """
if (x > 0.0 && isfinite(x)) {
    double r = __longlong_as_double(__double_as_longlong(x) / n + magic);  // x > 0: / is //
    for (int i = 0; i < steps; ++i) {
        double p = r * r;
        if (n == 5) p = p * p;
        r = (r * (double)(n - 1) + x / p) / (double)n;
    }
    y = r;
} else {
    y = x;  // 0, inf, NaN and negative values as they are
}
"""


@functools.lru_cache(maxsize=1)
def _cupy_root_kernel() -> Any:
    import cupy

    return cupy.ElementwiseKernel("float64 x, int64 n, int64 magic, int32 steps", "float64 y", _ROOT_OPERATION,
                                  "ffaccel_portable_root", options=("--fmad=false",))


def _root(xp: Any, x: Any, n: int) -> Any:
    y = (x.view(xp.int64) // n + _MAGIC[n]).view(xp.float64)
    for _ in range(_NEWTON_STEPS):
        p = y * y
        if n == 5:
            p = p * p
        y = (y * float(n - 1) + x / p) / float(n)
    return xp.where((x > 0) & (x < math.inf), y, x)  # 0, inf and NaN as they are


#: Terms one exact_sums row may hold (the int64 budget is split over them).
EXACT_SUM_MAX_TERMS = 2 ** 30


def exact_sums(xp: Any, terms: Any) -> list[float]:
    """Row sums of a finite (k, N) float64 array as k host floats, independent of summation order.

    Each row j is scaled by a power of two ``2**K_j`` chosen from its largest magnitude
    (a max is exact in any order) so that N terms fit an int64. Each scaled term t is
    split into ``hi = rint(t)`` and ``lo = rint((t - hi) * 2**M)`` (both exact steps; ``t
    - hi`` is exact), and hi and lo are summed as int64 (exact: the scales keep every
    partial sum below 2**62). Each term is thereby rounded to a quantum ``2**-(K_j + M)``
    of at most ``4 * max|term| * N**2 * 2**-124``, so the sum is within ``N`` half-quanta
    (2e-19 of the largest term for a 1024 x 1024 crop) of the exact sum of the terms, and
    that sum, rounded once to float64 on the host, is the result.

    Two device reads (the maxima, then the sums). Raises ValueError for N above
    :data:`EXACT_SUM_MAX_TERMS` (2**30) or a non-finite term.
    """
    k, n = (int(v) for v in terms.shape)
    if n > EXACT_SUM_MAX_TERMS:
        raise ValueError(f"terms: expected at most {EXACT_SUM_MAX_TERMS} terms per sum, got {n}")
    if n == 0:
        return [0.0] * k
    amax = _to_host(xp.maximum(terms.max(axis=1), -terms.min(axis=1)))  # NaN stays NaN
    if not np.all(np.isfinite(amax)):
        raise ValueError("terms: expected finite values, got NaN or infinity")
    nbits = n.bit_length()  # n < 2**nbits
    exps = []
    for v in amax.tolist():
        e = math.frexp(v)[1] if v > 0 else 0  # v < 2**e
        # |t| * 2**K < 2**(62 - nbits): n terms sum below 2**62. float32-derived terms are
        # below 2**260, so K stays far above float64's smallest exponent; K is capped so
        # that 2**K is a float (rows below 2**-960 sum to 0).
        exps.append(min(62 - nbits - e, 1000))
    m_bits = 62 - nbits  # |t - hi| <= 1/2: n of them times 2**M stay below 2**62 too
    scale = xp.asarray(np.array([[math.ldexp(1.0, kk)] for kk in exps]))
    if xp is not np:
        sums = _to_host(_fixed_point_sums(xp, terms, scale, m_bits))
    else:  # in blocks whose temporaries stay in cache; int64 block sums add exactly in any order
        sums = sum(_fixed_point_sums(np, terms[:, i:i + _SUM_BLOCK], scale, m_bits) for i in range(0, n, _SUM_BLOCK))
    out = []
    for j in range(k):
        total = (int(sums[0, j]) << m_bits) + int(sums[1, j])  # Python int: exact
        out.append(_int_times_pow2(total, -(exps[j] + m_bits)))
    return out


def _fixed_point_sums(xp: Any, terms: Any, scale: Any, m_bits: int) -> Any:
    """(2, k) int64: the row sums of hi = rint(terms * scale) and lo = rint((terms * scale - hi) * 2**m_bits)."""
    scaled = terms * scale  # exact: powers of two
    hi = xp.rint(scaled)
    lo = xp.rint((scaled - hi) * math.ldexp(1.0, m_bits))  # scaled - hi is exact
    return xp.stack([hi.astype(xp.int64).sum(axis=1), lo.astype(xp.int64).sum(axis=1)])


def _int_times_pow2(i: int, p: int) -> float:
    """``i * 2**p`` rounded once to float64 (Python ints: exact until the one rounding)."""
    if i == 0:
        return 0.0
    if p >= 0:
        return float(i << p)
    return i / (1 << -p)  # int / int: correctly rounded


def _to_host(a: Any) -> np.ndarray:
    return a.get() if hasattr(a, "get") else np.asarray(a)
