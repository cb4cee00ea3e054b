"""ffaccel._portable on cupy: the fused root kernel gives the bits of the array-operation
chain (and of numpy), so color_transfer keeps the same bytes on CPU and GPU."""

from __future__ import annotations

import numpy as np
import pytest

from ffaccel import _portable

pytestmark = pytest.mark.cuda


@pytest.fixture()
def cupy():
    return pytest.importorskip("cupy")


def _values() -> np.ndarray:
    rng = np.random.default_rng(11)
    x = np.concatenate([np.exp(rng.uniform(-700, 700, 200000)), rng.uniform(0, 1, 100000),
                        [0.0, -0.0, -8.0, np.inf, -np.inf, np.nan, 5e-324, 2.2e-308, 1.7e308, 1.0, 27.0]])
    return x


@pytest.mark.parametrize("n", [3, 5])
def test_fused_kernel_equals_the_operation_chain_and_numpy_bit_for_bit(cupy, n, monkeypatch):
    x = _values()
    host = _portable.root(np, x, n)
    fused = cupy.asnumpy(_portable.root(cupy, cupy.asarray(x), n))
    monkeypatch.setattr(_portable, "FUSED_CUPY_ROOT", False)
    chain = cupy.asnumpy(_portable.root(cupy, cupy.asarray(x), n))
    np.testing.assert_array_equal(fused.view(np.int64), chain.view(np.int64))
    np.testing.assert_array_equal(fused.view(np.int64), host.view(np.int64))


def test_fused_kernel_keeps_shape(cupy):
    x = cupy.asarray(np.full((4, 5, 3), 8.0))
    got = _portable.root(cupy, x, 3)
    assert got.shape == (4, 5, 3) and bool((got == 2.0).all())
