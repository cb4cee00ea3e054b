"""ONNX Runtime helper: clear errors without onnxruntime-gpu, argument checks (CPU).

A real CUDA session is tested in test_runtime_cuda.py where onnxruntime-gpu exists.
"""

from __future__ import annotations

import sys
import types

import numpy as np
import pytest

from ffaccel.runtime import OrtCudaSession, OrtCudaUnavailableError, require_onnxruntime_gpu
from ffaccel.runtime.onnx import _resolve_output_shape


def _fake_ort(providers, session=None):
    mod = types.ModuleType("onnxruntime")
    mod.__version__ = "9.9.9"
    mod.get_available_providers = lambda: list(providers)
    mod.InferenceSession = lambda *a, **k: session
    return mod


class Arg:
    def __init__(self, name, shape, type_="tensor(float)"):
        self.name, self.shape, self.type = name, shape, type_


class FakeSession:
    def __init__(self, providers=("CUDAExecutionProvider", "CPUExecutionProvider")):
        self.providers = list(providers)

    def get_providers(self):
        return self.providers

    def get_inputs(self):
        return [Arg("x", ["N", 3, 4, 4])]

    def get_outputs(self):
        return [Arg("y", ["N", 3, 4, 4])]

    def io_binding(self):  # pragma: no cover - never reached on CPU tensors
        raise AssertionError("must validate before binding")


def test_missing_onnxruntime(monkeypatch):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import raises ImportError
    with pytest.raises(OrtCudaUnavailableError, match="pip install onnxruntime-gpu"):
        require_onnxruntime_gpu()
    with pytest.raises(ImportError):  # it is an ImportError for `except ImportError` users
        OrtCudaSession("model.onnx")


def test_cpu_only_onnxruntime(monkeypatch):
    monkeypatch.setitem(sys.modules, "onnxruntime", _fake_ort(["CPUExecutionProvider"]))
    with pytest.raises(OrtCudaUnavailableError, match=r"9\.9\.9 has no CUDAExecutionProvider.*onnxruntime-gpu"):
        require_onnxruntime_gpu()


def test_session_without_cuda_provider(monkeypatch):
    monkeypatch.setitem(sys.modules, "onnxruntime", _fake_ort(["CUDAExecutionProvider"]))
    with pytest.raises(OrtCudaUnavailableError, match="does not use CUDAExecutionProvider"):
        OrtCudaSession(FakeSession(providers=["CPUExecutionProvider"]))


def test_constructor_arguments(monkeypatch):
    monkeypatch.setitem(sys.modules, "onnxruntime", _fake_ort(["CUDAExecutionProvider"]))
    with pytest.raises(ValueError, match="device_id"):
        OrtCudaSession(FakeSession(), device_id=-1)
    with pytest.raises(TypeError, match="model"):
        OrtCudaSession(3.5)
    sess = OrtCudaSession(FakeSession())
    assert list(sess.inputs) == ["x"] and list(sess.outputs) == ["y"]


def test_run_argument_checks(monkeypatch):
    torch = pytest.importorskip("torch")
    monkeypatch.setitem(sys.modules, "onnxruntime", _fake_ort(["CUDAExecutionProvider"]))
    sess = OrtCudaSession(FakeSession())
    with pytest.raises(TypeError, match="inputs"):
        sess.run([torch.zeros(1)])
    with pytest.raises(ValueError, match=r"missing \['x'\]"):
        sess.run({"z": torch.zeros(1)})
    with pytest.raises(ValueError, match="unknown output 'q'"):
        sess.run({"x": torch.zeros(1, 3, 4, 4)}, output_shapes={"q": (1,)})
    with pytest.raises(TypeError, match=r"inputs\['x'\]: expected a torch.Tensor"):
        sess.run({"x": np.zeros((1, 3, 4, 4), np.float32)})
    with pytest.raises(ValueError, match=r"inputs\['x'\]: expected a tensor on cuda:0"):
        sess.run({"x": torch.zeros(1, 3, 4, 4)})


def test_resolve_output_shape():
    assert _resolve_output_shape("y", ["N", 3, 128, 128], {"N": 8}, None) == (8, 3, 128, 128)
    assert _resolve_output_shape("y", [1, 512], {}, None) == (1, 512)
    assert _resolve_output_shape("y", ["M", 2], {}, [5, 2]) == (5, 2)
    with pytest.raises(ValueError, match="output_shapes"):
        _resolve_output_shape("y", ["M", 2], {"N": 1}, None)
    with pytest.raises(ValueError, match="output_shapes"):
        _resolve_output_shape("y", ["M", 2], {}, [5])
    with pytest.raises(ValueError, match="output_shapes"):
        _resolve_output_shape("y", [None, 2], {}, None)
