"""Small helpers shared by the runtime modules (no torch import at module load)."""

from __future__ import annotations

import importlib
import operator
import sys
from typing import Any, Callable

__all__: list[str] = []


def check_int(name: str, value: object, minimum: int) -> int:
    """Return ``value`` as an ``int`` >= ``minimum``; TypeError/ValueError naming ``name``."""
    if isinstance(value, bool):
        raise TypeError(f"{name} must be an int, got bool")
    try:
        ivalue = operator.index(value)  # type: ignore[arg-type]
    except TypeError:
        raise TypeError(f"{name} must be an int, got {type(value).__name__}") from None
    if ivalue < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {ivalue}")
    return ivalue


def import_torch() -> Any:
    """Import torch lazily; raise ImportError with an install hint when it is missing."""
    try:
        return importlib.import_module("torch")
    except ImportError as exc:  # pragma: no cover - torch is present in the test env
        raise ImportError(
            "ffaccel.runtime needs PyTorch for this feature; install it with "
            '`pip install "ffaccel[torch]"` (or ".[torch]" from a checkout) or see https://pytorch.org'
        ) from exc


def is_torch_tensor(obj: object) -> bool:
    """True if ``obj`` is a ``torch.Tensor`` (without importing torch)."""
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(obj, torch.Tensor)


def map_tensors(obj: Any, fn: Callable[[Any], Any]) -> Any:
    """Apply ``fn`` to every torch tensor in a nest of tuples/lists/dicts; keep other leaves."""
    if is_torch_tensor(obj):
        return fn(obj)
    if isinstance(obj, tuple) and hasattr(obj, "_fields"):  # namedtuple
        return type(obj)(*(map_tensors(o, fn) for o in obj))
    if isinstance(obj, (list, tuple)):
        return type(obj)(map_tensors(o, fn) for o in obj)
    if isinstance(obj, dict):
        return {k: map_tensors(v, fn) for k, v in obj.items()}
    return obj


def iter_tensors(obj: Any) -> list[Any]:
    """All torch tensors in a nest of tuples/lists/dicts, in traversal order."""
    found: list[Any] = []

    def visit(t: Any) -> Any:
        found.append(t)
        return t

    map_tensors(obj, visit)
    return found
