"""A context manager that makes torch inference numerically reproducible.

Inside :func:`deterministic_context` TF32 is off for cuBLAS matmuls and cuDNN
convolutions (full float32 precision), cuDNN picks deterministic algorithms and does not
benchmark. On exit, every setting it touched is restored to its previous value, also
when the body raises. The settings are process-wide torch flags: they work without a GPU
(they are just flags until a kernel runs), and they are not thread-local.
"""

from __future__ import annotations

import contextlib
import os
from typing import Any, Iterator

from ffaccel._arrays import import_torch

__all__ = ["deterministic_context", "snapshot_torch_flags"]

# (object path under torch, attribute). The fp32_precision flags exist from torch 2.9; where
# they exist they are the ones set and restored, because the legacy allow_tf32 getters
# raise once the two APIs disagree.
_LEGACY_TF32 = [("backends.cuda.matmul", "allow_tf32"), ("backends.cudnn", "allow_tf32")]
_CUDNN = [("backends.cudnn", "deterministic"), ("backends.cudnn", "benchmark")]
_NEW = [  # parent before children: setting a parent may write through to them
    ("backends", "fp32_precision"),
    ("backends.cuda.matmul", "fp32_precision"),
    ("backends.cudnn", "fp32_precision"),
    ("backends.cudnn.conv", "fp32_precision"),
    ("backends.cudnn.rnn", "fp32_precision"),
]


def _resolve(torch: Any, path: str) -> Any:
    obj = torch
    for part in path.split("."):
        obj = getattr(obj, part, None)
        if obj is None:
            return None
    return obj


def _has_new_api(torch: Any) -> bool:
    return hasattr(_resolve(torch, "backends.cuda.matmul"), "fp32_precision") and _resolve(
        torch, "backends.cudnn.conv"
    ) is not None


def snapshot_torch_flags() -> dict[str, Any]:
    """The torch numerics flags that :func:`deterministic_context` touches, by name.

    Returns a dict such as ``{"backends.cudnn.benchmark": False, ...,
    "float32_matmul_precision": "highest", "deterministic_algorithms": (False, False)}``.
    Flags this torch version does not have, and legacy ``allow_tf32`` flags whose getter
    refuses to answer (torch raises when legacy and new TF32 settings were mixed), are
    left out.
    """
    torch = import_torch()
    snap: dict[str, Any] = {}
    for path, attr in _LEGACY_TF32 + _CUDNN + _NEW:
        obj = _resolve(torch, path)
        if obj is None:
            continue
        try:
            snap[f"{path}.{attr}"] = getattr(obj, attr)
        except (AttributeError, RuntimeError):
            continue
    snap["float32_matmul_precision"] = torch.get_float32_matmul_precision()
    snap["deterministic_algorithms"] = (
        torch.are_deterministic_algorithms_enabled(),
        torch.is_deterministic_algorithms_warn_only_enabled(),
    )
    return snap


def _set_flags(torch: Any, snap: dict[str, Any], flags: list[tuple[str, str]]) -> None:
    for path, attr in flags:
        key = f"{path}.{attr}"
        if key in snap:
            setattr(_resolve(torch, path), attr, snap[key])


def _restore(torch: Any, snap: dict[str, Any]) -> None:
    torch.set_float32_matmul_precision(snap["float32_matmul_precision"])
    if _has_new_api(torch):
        _set_flags(torch, snap, _NEW)
    # torch also remembers which API set a flag last, and a legacy getter may refuse to
    # answer after new-style writes: set a legacy flag again where it does not read back.
    for path, attr in _LEGACY_TF32:
        key = f"{path}.{attr}"
        if key not in snap:
            continue
        obj = _resolve(torch, path)
        try:
            same = getattr(obj, attr) == snap[key]
        except RuntimeError:
            same = False
        if not same:
            setattr(obj, attr, snap[key])
    _set_flags(torch, snap, _CUDNN)
    enabled, warn_only = snap["deterministic_algorithms"]
    torch.use_deterministic_algorithms(enabled, warn_only=warn_only)


@contextlib.contextmanager
def deterministic_context(*, deterministic_algorithms: bool = False) -> Iterator[dict[str, Any]]:
    """Turn TF32 off and cuDNN deterministic inside the block; restore everything on exit.

    Sets the float32 matmul precision to ``"highest"``,
    ``torch.backends.cuda.matmul.allow_tf32 = False``, ``torch.backends.cudnn.allow_tf32 =
    False`` (TF32 off for cuBLAS and cuDNN), ``torch.backends.cudnn.deterministic = True``
    and ``torch.backends.cudnn.benchmark = False``. On exit the previous values are
    restored (on torch >= 2.9 through the finer ``fp32_precision`` flags).

    Args:
        deterministic_algorithms: if True, also call
            ``torch.use_deterministic_algorithms(True)`` so torch raises on ops that have
            no deterministic implementation. cuBLAS then needs the environment variable
            ``CUBLAS_WORKSPACE_CONFIG=:4096:8`` (set before the first cuBLAS call); it is
            set here if unset, and not removed afterwards.

    Yields:
        The snapshot of the previous flags (see :func:`snapshot_torch_flags`).

    Raises:
        TypeError: ``deterministic_algorithms`` is not a bool.

    Example:
        >>> import torch
        >>> from ffaccel.runtime import deterministic_context
        >>> with deterministic_context():
        ...     torch.backends.cudnn.deterministic
        True
    """
    if not isinstance(deterministic_algorithms, bool):
        raise TypeError(
            f"deterministic_algorithms must be a bool, got {type(deterministic_algorithms).__name__}"
        )
    torch = import_torch()
    snap = snapshot_torch_flags()
    try:
        torch.set_float32_matmul_precision("highest")
        # The legacy setters write through to the fp32_precision flags on torch >= 2.9
        # and leave a state whose legacy getters still answer (False). cuDNN's legacy
        # setter writes "none" (inherit) to conv and rnn, so the parent is pinned first.
        if _has_new_api(torch):
            torch.backends.cudnn.fp32_precision = "ieee"
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
        torch.backends.cudnn.deterministic = True
        torch.backends.cudnn.benchmark = False
        if deterministic_algorithms:
            os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
            torch.use_deterministic_algorithms(True)
        yield snap
    finally:
        _restore(torch, snap)
