"""deterministic_context: sets the flags, restores them on exit and on exceptions (CPU)."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from ffaccel.runtime import deterministic_context, snapshot_torch_flags  # noqa: E402
from ffaccel.runtime.determinism import _restore  # noqa: E402

HAS_NEW_API = hasattr(torch.backends.cuda.matmul, "fp32_precision")


@pytest.fixture(autouse=True)
def _keep_global_flags():
    snap = snapshot_torch_flags()
    yield
    _restore(torch, snap)


def _set_tf32_on_legacy():
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True
    torch.backends.cudnn.benchmark = True


def _set_new_api_mix():
    if not HAS_NEW_API:
        pytest.skip("torch without fp32_precision flags")
    torch.set_float32_matmul_precision("medium")
    torch.backends.cudnn.fp32_precision = "tf32"
    torch.backends.cudnn.rnn.fp32_precision = "ieee"  # legacy cuDNN getter refuses now
    torch.backends.cudnn.deterministic = False


def _set_deterministic_algorithms():
    torch.use_deterministic_algorithms(True, warn_only=True)
    torch.backends.cudnn.deterministic = True


STATES = {
    "default": lambda: None,
    "tf32_legacy": _set_tf32_on_legacy,
    "new_api_mix": _set_new_api_mix,
    "det_algos": _set_deterministic_algorithms,
}


def _assert_deterministic_inside():
    assert torch.backends.cuda.matmul.allow_tf32 is False
    assert torch.backends.cudnn.allow_tf32 is False
    assert torch.backends.cudnn.deterministic is True
    assert torch.backends.cudnn.benchmark is False
    assert torch.get_float32_matmul_precision() == "highest"
    if HAS_NEW_API:
        assert torch.backends.cuda.matmul.fp32_precision == "ieee"
        assert torch.backends.cudnn.conv.fp32_precision == "ieee"
        assert torch.backends.cudnn.rnn.fp32_precision == "ieee"


@pytest.mark.parametrize("state", list(STATES))
def test_sets_and_restores(state):
    STATES[state]()
    before = snapshot_torch_flags()
    with deterministic_context() as snap:
        assert snap == before
        _assert_deterministic_inside()
    assert snapshot_torch_flags() == before


@pytest.mark.parametrize("state", list(STATES))
def test_restores_on_exception(state):
    STATES[state]()
    before = snapshot_torch_flags()
    with pytest.raises(ZeroDivisionError):
        with deterministic_context():
            _assert_deterministic_inside()
            1 / 0  # noqa: B018
    assert snapshot_torch_flags() == before


def test_state_differs_inside_so_restore_is_observable():
    _set_tf32_on_legacy()
    before = snapshot_torch_flags()
    with deterministic_context():
        assert snapshot_torch_flags() != before


def test_nested():
    _set_tf32_on_legacy()
    before = snapshot_torch_flags()
    with deterministic_context():
        inner_before = snapshot_torch_flags()
        with deterministic_context(deterministic_algorithms=True):
            assert torch.are_deterministic_algorithms_enabled()
        assert snapshot_torch_flags() == inner_before
    assert snapshot_torch_flags() == before


def test_deterministic_algorithms_option(monkeypatch):
    monkeypatch.delenv("CUBLAS_WORKSPACE_CONFIG", raising=False)
    assert not torch.are_deterministic_algorithms_enabled()
    with deterministic_context(deterministic_algorithms=True):
        assert torch.are_deterministic_algorithms_enabled()
        assert not torch.is_deterministic_algorithms_warn_only_enabled()
        import os

        assert os.environ["CUBLAS_WORKSPACE_CONFIG"] == ":4096:8"
    assert not torch.are_deterministic_algorithms_enabled()


def test_bad_argument():
    with pytest.raises(TypeError, match="deterministic_algorithms"):
        with deterministic_context(deterministic_algorithms=1):  # type: ignore[arg-type]
            pass
