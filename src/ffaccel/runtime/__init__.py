"""ffaccel.runtime: CUDA-graph runners, batching, deterministic numerics, memory policy.

Model inference for the per-face models of a face-swap frame (swapper, enhancer, masks):

* :class:`CudaGraphRunner` captures a torch callable once per shape bucket and replays
  it as one CUDA graph; :func:`bucket_batch_size` is its power-of-two batch bucketing.
* :class:`BatchProcessor` batches face crops across faces and frames with a latency
  bound and returns results in submission order.
* :func:`deterministic_context` turns TF32 off and cuDNN deterministic, and restores.
* :class:`MemoryPolicy` says and does what is released between videos.
* :class:`OrtCudaSession` runs an onnxruntime CUDA session on torch CUDA tensors
  through I/O binding.

Importing this package needs neither torch nor onnxruntime; they are imported on use.
"""

from .batching import BatchProcessor
from .determinism import deterministic_context, snapshot_torch_flags
from .graph_runner import CudaGraphRunner, bucket_batch_size, live_runners
from .memory import MemoryPolicy, ReleasePlan, ReleaseReport
from .onnx import OrtCudaSession, OrtCudaUnavailableError, require_onnxruntime_gpu

__all__ = [
    "BatchProcessor",
    "CudaGraphRunner",
    "MemoryPolicy",
    "OrtCudaSession",
    "OrtCudaUnavailableError",
    "ReleasePlan",
    "ReleaseReport",
    "bucket_batch_size",
    "deterministic_context",
    "live_runners",
    "require_onnxruntime_gpu",
    "snapshot_torch_flags",
]
