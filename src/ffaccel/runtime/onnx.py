"""Run an ONNX Runtime CUDA session on torch CUDA tensors through I/O binding.

FaceFusion runs its models with onnxruntime. :class:`OrtCudaSession` binds torch CUDA
tensors directly as the session's inputs and outputs (``IOBinding`` with device
pointers), so a crop that is already on the GPU goes through the model without a copy to
the host and back. onnxruntime is imported lazily; without ``onnxruntime-gpu`` (a build
with the ``CUDAExecutionProvider``) the helper raises :class:`OrtCudaUnavailableError`
with what it found and how to install the right package.
"""

from __future__ import annotations

import importlib
from typing import Any, Mapping, Sequence

import numpy as np

from ffaccel._arrays import import_torch, is_torch_tensor

__all__ = ["OrtCudaSession", "OrtCudaUnavailableError", "require_onnxruntime_gpu"]

# ONNX tensor type string -> (numpy dtype, torch dtype name)
_ORT_TYPES = {
    "tensor(float)": (np.float32, "float32"),
    "tensor(float16)": (np.float16, "float16"),
    "tensor(double)": (np.float64, "float64"),
    "tensor(uint8)": (np.uint8, "uint8"),
    "tensor(int8)": (np.int8, "int8"),
    "tensor(int32)": (np.int32, "int32"),
    "tensor(int64)": (np.int64, "int64"),
    "tensor(bool)": (np.bool_, "bool"),
}


class OrtCudaUnavailableError(ImportError):
    """onnxruntime is missing, or it is a build without the CUDA execution provider."""


def require_onnxruntime_gpu() -> Any:
    """Import onnxruntime and check that it has the ``CUDAExecutionProvider``.

    Returns:
        The ``onnxruntime`` module.

    Raises:
        OrtCudaUnavailableError: onnxruntime cannot be imported, or its available
            providers do not include ``CUDAExecutionProvider`` (e.g. the CPU-only
            ``onnxruntime`` wheel is installed instead of ``onnxruntime-gpu``).

    Example:
        >>> from ffaccel.runtime import require_onnxruntime_gpu
        >>> ort = require_onnxruntime_gpu()   # doctest: +SKIP
    """
    try:
        ort = importlib.import_module("onnxruntime")
    except ImportError as exc:
        raise OrtCudaUnavailableError(
            "onnxruntime is not importable; install the GPU build with "
            "`pip install onnxruntime-gpu` (its CUDA major version must match your driver)"
        ) from exc
    providers = list(ort.get_available_providers())
    if "CUDAExecutionProvider" not in providers:
        version = getattr(ort, "__version__", "?")
        raise OrtCudaUnavailableError(
            f"onnxruntime {version} has no CUDAExecutionProvider (available: {providers}); "
            "uninstall `onnxruntime` and install `onnxruntime-gpu`"
        )
    return ort


def _resolve_output_shape(
    name: str,
    declared: Sequence[Any],
    input_dims: Mapping[str, int],
    given: Sequence[int] | None,
) -> tuple[int, ...]:
    """Concrete output shape: ``given`` if any, else declared ints and named dims that an
    input also uses (e.g. a batch axis ``"N"``); ValueError naming ``output_shapes``."""
    if given is not None:
        fixed = tuple(int(d) for d in given)
        if len(fixed) != len(declared) or any(d < 0 for d in fixed):
            raise ValueError(f"output_shapes[{name!r}]: expected {len(declared)} non-negative ints, got {tuple(given)}")
        return fixed
    shape: list[int] = []
    for d in declared:
        if isinstance(d, int) and d >= 0:
            shape.append(d)
        elif isinstance(d, str) and d in input_dims:
            shape.append(input_dims[d])
        else:
            raise ValueError(
                f"output {name!r} has a dynamic dimension {d!r} that no input determines; "
                f"pass output_shapes={{{name!r}: (...)}} or outputs={{{name!r}: tensor}}"
            )
    return tuple(shape)


class OrtCudaSession:
    """An onnxruntime CUDA session that runs on torch CUDA tensors without host copies.

    Args:
        model: path of an ``.onnx`` file, its bytes, or an existing
            ``onnxruntime.InferenceSession`` created with the CUDA provider.
        device_id: CUDA device ordinal (an int >= 0) the session and tensors live on.
        stream: optional ``torch.cuda.Stream`` passed to ORT as ``user_compute_stream``:
            ORT then runs on it and needs no host synchronisation before a run. Without
            it, :meth:`run` synchronises torch's current stream first so the inputs are
            ready; with it, ``stream`` waits on torch's current stream (no host wait).
            Ignored when ``model`` is a session.
        session_options: optional ``onnxruntime.SessionOptions``.

    Example:
        >>> import torch
        >>> from ffaccel.runtime import OrtCudaSession
        >>> sess = OrtCudaSession("inswapper_128.onnx")               # doctest: +SKIP
        >>> out = sess.run({"target": crop, "source": embedding})     # doctest: +SKIP
        >>> out["output"].shape                                        # doctest: +SKIP
        torch.Size([1, 3, 128, 128])
    """

    def __init__(self, model: Any, *, device_id: int = 0, stream: Any = None, session_options: Any = None) -> None:
        ort = require_onnxruntime_gpu()
        if isinstance(device_id, bool) or not isinstance(device_id, int) or device_id < 0:
            raise ValueError(f"device_id: expected an int >= 0, got {device_id!r}")
        self.device_id = device_id
        self.stream = stream
        if isinstance(model, (str, bytes)) or hasattr(model, "__fspath__"):
            cuda_opts: dict[str, str] = {"device_id": str(device_id)}
            if stream is not None:
                cuda_opts["user_compute_stream"] = str(int(stream.cuda_stream))
            self.session = ort.InferenceSession(
                model if isinstance(model, bytes) else str(model),
                sess_options=session_options,
                providers=[("CUDAExecutionProvider", cuda_opts), "CPUExecutionProvider"],
            )
        elif hasattr(model, "io_binding") and hasattr(model, "get_inputs"):
            self.session = model
            self.stream = None
        else:
            raise TypeError(f"model: expected a path, bytes or an InferenceSession, got {type(model).__name__}")
        if "CUDAExecutionProvider" not in list(self.session.get_providers()):
            raise OrtCudaUnavailableError(
                f"the session does not use CUDAExecutionProvider (it uses {self.session.get_providers()}); "
                "check that CUDA and cuDNN libraries matching onnxruntime-gpu are installed"
            )
        self.inputs = {a.name: a for a in self.session.get_inputs()}
        self.outputs = {a.name: a for a in self.session.get_outputs()}

    def _check_tensor(self, where: str, t: Any, arg: Any, torch: Any) -> None:
        if not is_torch_tensor(t):
            raise TypeError(f"{where}: expected a torch.Tensor, got {type(t).__name__}")
        if t.device.type != "cuda" or (t.device.index or 0) != self.device_id:
            raise ValueError(f"{where}: expected a tensor on cuda:{self.device_id}, got {t.device}")
        if not t.is_contiguous():
            raise ValueError(f"{where}: expected a C-contiguous tensor, got strides {tuple(t.stride())}")
        np_dtype, torch_name = _ORT_TYPES.get(arg.type, (None, None))
        if torch_name is None:
            raise TypeError(f"{where}: ONNX type {arg.type} is not supported")
        if t.dtype != getattr(torch, torch_name):
            raise TypeError(f"{where}: expected dtype torch.{torch_name} (ONNX {arg.type}), got {t.dtype}")

    def run(
        self,
        inputs: Mapping[str, Any],
        *,
        outputs: Mapping[str, Any] | None = None,
        output_shapes: Mapping[str, Sequence[int]] | None = None,
    ) -> dict[str, Any]:
        """Run the model on torch CUDA tensors; return ``{output name: torch CUDA tensor}``.

        Args:
            inputs: one C-contiguous torch CUDA tensor per model input, by name, with the
                model's dtype (e.g. float32 ``(1, 3, 128, 128)``) and static dims.
            outputs: optional preallocated output tensors by name (written in place).
            output_shapes: shapes for outputs with dynamic dims that no input
                determines; outputs not in ``outputs`` are allocated with ``torch.empty``.

        Blocks the host until ORT finished (ORT synchronises its stream after a run).
        """
        torch = import_torch()
        if not isinstance(inputs, Mapping):
            raise TypeError(f"inputs: expected a mapping of name -> tensor, got {type(inputs).__name__}")
        missing = sorted(set(self.inputs) - set(inputs))
        extra = sorted(set(inputs) - set(self.inputs))
        if missing or extra:
            raise ValueError(f"inputs: missing {missing}, unknown {extra}; the model takes {sorted(self.inputs)}")
        outputs = dict(outputs or {})
        output_shapes = dict(output_shapes or {})
        for name in [*outputs, *output_shapes]:
            if name not in self.outputs:
                raise ValueError(
                    f"outputs/output_shapes: unknown output {name!r}; the model has {sorted(self.outputs)}"
                )
        dims: dict[str, int] = {}
        for name, arg in self.inputs.items():
            t = inputs[name]
            self._check_tensor(f"inputs[{name!r}]", t, arg, torch)
            if len(arg.shape) != t.dim():
                raise ValueError(f"inputs[{name!r}]: expected {len(arg.shape)} dims {arg.shape}, got {tuple(t.shape)}")
            for d, size in zip(arg.shape, t.shape):
                if isinstance(d, int) and d >= 0 and d != size:
                    raise ValueError(f"inputs[{name!r}]: expected shape {arg.shape}, got {tuple(t.shape)}")
                if isinstance(d, str):
                    dims.setdefault(d, int(size))
        result: dict[str, Any] = {}
        for name, arg in self.outputs.items():
            if name in outputs:
                self._check_tensor(f"outputs[{name!r}]", outputs[name], arg, torch)
                result[name] = outputs[name]
                continue
            shape = _resolve_output_shape(name, arg.shape, dims, output_shapes.get(name))
            dtype = getattr(torch, _ORT_TYPES[arg.type][1]) if arg.type in _ORT_TYPES else None
            if dtype is None:
                raise TypeError(f"output {name!r}: ONNX type {arg.type} is not supported")
            result[name] = torch.empty(shape, dtype=dtype, device=f"cuda:{self.device_id}")

        binding = self.session.io_binding()
        for name, arg in self.inputs.items():
            t = inputs[name]
            binding.bind_input(name, "cuda", self.device_id, _ORT_TYPES[arg.type][0], tuple(t.shape), t.data_ptr())
        for name, arg in self.outputs.items():
            t = result[name]
            binding.bind_output(name, "cuda", self.device_id, _ORT_TYPES[arg.type][0], tuple(t.shape), t.data_ptr())
        current = torch.cuda.current_stream(self.device_id)
        if self.stream is None:
            current.synchronize()
        else:
            self.stream.wait_stream(current)  # device-side ordering, no host wait
        self.session.run_with_iobinding(binding)
        return result
