"""ffaccel._portable: roots from basic IEEE operations and order-independent exact sums."""

from __future__ import annotations

import math
from decimal import Decimal, localcontext
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ffaccel import _core, _portable
from cpu_builds import digests_of_both_builds
from strategies import examples


class OtherXp:
    """numpy under another name: ``xp is not np``, so the code takes its cupy branch (no blocks)."""

    def __getattr__(self, name):
        return getattr(np, name)


def _decimal_root(x: float, n: int) -> Decimal:
    with localcontext() as ctx:
        ctx.prec = 60
        return Decimal(x) ** (Decimal(1) / Decimal(n))


@pytest.mark.parametrize("n", [3, 5])
def test_root_is_within_a_few_float64_ulps_of_the_true_root(n):
    rng = np.random.default_rng(n)
    x = np.concatenate([rng.random(300) * 2, np.exp(rng.uniform(-600, 600, 300)), [1.0, 8.0, 32.0, 1e-300, 1e300]])
    got = _portable.root(np, x, n)
    for xi, yi in zip(x.tolist(), got.tolist()):
        true = _decimal_root(xi, n)
        assert abs(Decimal(yi) - true) <= 4 * Decimal(math.ulp(float(true))), (xi, yi)


@pytest.mark.parametrize("n", [3, 5])
def test_root_rounded_to_float32_is_the_correctly_rounded_root(n):
    rng = np.random.default_rng(10 + n)
    x = (rng.random(400) * 1.2 + 0.003).astype(np.float32).astype(np.float64)
    got = _portable.root(np, x, n).astype(np.float32)
    for xi, yi in zip(x.tolist(), got.tolist()):
        true = _decimal_root(xi, n)
        want = np.float32(float(true))  # float(Decimal) is correctly rounded; to float32 again
        lo, hi = np.nextafter(want, np.float32(0)), np.nextafter(want, np.float32(np.inf))
        nearest = min((lo, want, hi), key=lambda c: abs(Decimal(float(c)) - true))
        assert yi == nearest, (xi, yi, nearest)


def test_root_special_values_and_shapes():
    x = np.array([[0.0, np.inf], [np.nan, -8.0]])
    got = _portable.root(np, x, 3)
    assert got.shape == (2, 2) and got[0, 0] == 0 and got[0, 1] == np.inf and np.isnan(got[1, 0])
    assert got[1, 1] == -8.0  # negative values are the caller's to clamp: returned as they are
    assert _portable.root(np, np.float32([27.0]), 3).dtype == np.float64


@settings(max_examples=examples(60), deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.sampled_from([3, 5]), size=st.integers(1, 70000))
def test_root_cpu_blocks_and_the_one_shot_gpu_branch_agree_to_the_bit(seed, n, size):
    x = np.exp(np.random.default_rng(seed).uniform(-50, 50, size))
    np.testing.assert_array_equal(_portable.root(np, x, n).view(np.int64), _portable.root(OtherXp(), x, n).view(np.int64))


def _fsum_rows(terms: np.ndarray) -> list[float]:
    return [float(sum(Fraction(v) for v in row)) for row in terms.tolist()]  # exact, rounded once


def test_exact_sums_equal_the_exactly_rounded_sum():
    rng = np.random.default_rng(0)
    terms = np.stack([rng.random(5000), rng.normal(0, 1e3, 5000), rng.random(5000) * 1e-12,
                      (rng.random(5000) - 0.5) * 2.0 ** rng.integers(-40, 40, 5000)])
    assert _portable.exact_sums(np, terms) == _fsum_rows(terms)
    # catastrophic cancellation: float64 summation loses the small terms, exact_sums does not
    assert _portable.exact_sums(np, np.array([[1e16, 1.0, -1e16, 2.0]])) == [3.0]


@settings(max_examples=examples(80), deadline=None)
@given(seed=st.integers(0, 2**32 - 1), k=st.integers(1, 6), n=st.integers(1, 20000),
       spread=st.integers(0, 60))
def test_exact_sums_do_not_depend_on_the_order_or_the_blocks(seed, k, n, spread):
    rng = np.random.default_rng(seed)
    # products of float32 values, as color_transfer's terms are, over a range of magnitudes
    a = (rng.random((k, n)) * 2.0 ** rng.integers(-spread, spread + 1, (k, n))).astype(np.float32)
    b = (rng.random((k, n)) - 0.5).astype(np.float32)
    terms = a.astype(np.float64) * b
    want = _portable.exact_sums(np, terms)
    perm = rng.permutation(n)
    assert _portable.exact_sums(np, np.ascontiguousarray(terms[:, perm])) == want
    assert _portable.exact_sums(np, np.ascontiguousarray(terms[:, ::-1])) == want
    assert _portable.exact_sums(OtherXp(), terms) == want  # one int64 reduction instead of blocks
    exact = _fsum_rows(terms)
    for got, true, row in zip(want, exact, np.abs(terms).max(axis=1)):
        # the documented bound: n half-quanta of at most 4 max|t| n**2 2**-124, plus the final rounding
        assert abs(got - true) <= n * 2 * float(row) * n * n * 2.0 ** -124 + math.ulp(true)


def test_exact_sums_refuse_non_finite_and_handle_empty_and_zero_rows():
    with pytest.raises(ValueError, match="terms: expected finite"):
        _portable.exact_sums(np, np.array([[1.0, np.inf]]))
    with pytest.raises(ValueError, match="terms: expected finite"):
        _portable.exact_sums(np, np.array([[1.0, np.nan]]))
    assert _portable.exact_sums(np, np.zeros((2, 0))) == [0.0, 0.0]
    assert _portable.exact_sums(np, np.zeros((2, 7))) == [0.0, 0.0]


@settings(max_examples=examples(60), deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.sampled_from([3, 5]), size=st.integers(0, 70000))
def test_compiled_root_equals_the_operation_chain_bit_for_bit(seed, n, size):
    rng = np.random.default_rng(seed)
    x = np.exp(rng.uniform(-745, 709, size))
    x[rng.random(size) < 0.02] = rng.choice([0.0, -0.0, -3.0, np.inf, -np.inf, np.nan, 5e-324])
    with np.errstate(all="ignore"):
        chain = _portable.root(OtherXp(), x, n)
    np.testing.assert_array_equal(_portable.root(np, x, n).view(np.int64), chain.view(np.int64))


def test_compiled_root_both_cpu_builds_and_bad_arguments():
    script = """
import hashlib
import numpy as np
from ffaccel import _portable
x = np.exp(np.random.default_rng(5).uniform(-745, 709, 300000))
h = hashlib.sha256()
for n in (3, 5):
    h.update(_portable.root(np, x, n).tobytes())
print(h.hexdigest())
"""
    digests = digests_of_both_builds(script, timeout=300)
    assert digests[0] == digests[1]
    x, y = np.ones(4), np.empty(4)
    with pytest.raises(ValueError, match="portable_root: n: expected 3 or 5"):
        _core.portable_root(x, y, 4, 0, 4)
    with pytest.raises(ValueError, match="portable_root: y: expected as many elements as x"):
        _core.portable_root(x, np.empty(3), 3, 0, 4)
    buf = np.full(8, 27.0)
    for y_view in (buf[2:6], buf[:4]):  # overlapping, or x itself
        with pytest.raises(ValueError, match="portable_root: y: expected an array apart from x"):
            _core.portable_root(buf[:4], y_view, 3, _portable._MAGIC[3], 4)
    assert buf.tolist() == [27.0] * 8  # nothing written
    ro = np.empty(4)
    ro.flags.writeable = False
    with pytest.raises(TypeError):
        _core.portable_root(x, ro, 3, 0, 4)
    other = np.empty(4)
    _core.portable_root(buf[:4], other, 3, _portable._MAGIC[3], 4)
    assert other.tolist() == [3.0] * 4
    _core.portable_root(buf[:4], other, 3, _portable._MAGIC[3], 7)  # another step count: the general loop
    assert other.tolist() == [3.0] * 4
