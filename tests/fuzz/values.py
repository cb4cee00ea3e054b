"""Seeded pools of valid and hostile argument values, shared by the case generators."""

from __future__ import annotations

import mmap
import os
import tempfile

import numpy as np

HUGE_INT = 10 ** 400  # too large for a float: float(HUGE_INT) raises OverflowError


def image(rng: np.random.Generator, h: int, w: int, c: int | None, dtype) -> np.ndarray:
    shape = (h, w) if c is None else (h, w, c)
    if np.dtype(dtype) == np.uint8:
        return rng.integers(0, 256, shape, dtype=np.uint8)
    return (rng.random(shape) * (255.0 if c and c > 1 else 1.0)).astype(dtype)


def mask(rng: np.random.Generator, h: int, w: int, dtype) -> np.ndarray:
    m = np.clip(rng.random((h, w)) * 1.6 - 0.3, 0, 1)
    return (m * 255).round().astype(np.uint8) if np.dtype(dtype) == np.uint8 else m.astype(np.float32)


def read_only_memmap(a: np.ndarray) -> np.ndarray:
    """A read-only np.memmap holding a copy of ``a`` (writing to it would segfault)."""
    fd, path = tempfile.mkstemp(prefix="ffaccel-fuzz-")
    os.write(fd, a.tobytes() or b"\0")
    os.close(fd)
    m = np.memmap(path, dtype=a.dtype, mode="r", shape=a.shape)
    os.unlink(path)  # the mapping stays valid
    return m


def bytes_backed(a: np.ndarray) -> np.ndarray:
    """An array over immutable bytes (read-only)."""
    return np.frombuffer(a.tobytes(), a.dtype).reshape(a.shape)


def spoil_array(rng: np.random.Generator, a: np.ndarray) -> tuple[str, np.ndarray]:
    """A hostile variant of a valid array: its tag and the array."""
    kinds = ["readonly", "memmap", "bytes", "noncontig", "float64", "int16", "bool", "complex", "object",
             "str", "structured", "bigendian", "empty", "ndim1", "ndim4", "nan", "inf", "channels", "list"]
    k = kinds[rng.integers(len(kinds))]
    if k == "readonly":
        b = a.copy()
        b.flags.writeable = False
        return k, b
    if k == "memmap":
        return k, read_only_memmap(a)
    if k == "bytes":
        return k, bytes_backed(a)
    if k == "noncontig":
        return k, np.repeat(a, 2, axis=1)[:, ::2]
    if k in ("float64", "int16", "bool", "complex"):
        return k, a.astype({"float64": np.float64, "int16": np.int16, "bool": np.bool_, "complex": np.complex64}[k])
    if k == "object":
        return k, a.astype(object)
    if k == "str":
        return k, a.astype(str)
    if k == "structured":
        return k, np.zeros(a.shape[:2], dtype=[("x", np.uint8), ("y", np.float32)])
    if k == "bigendian":
        return k, a.astype(a.dtype.newbyteorder(">"))
    if k == "empty":
        return k, a[:0]
    if k == "ndim1":
        return k, a.reshape(-1)
    if k == "ndim4":
        return k, a[None]
    if k in ("nan", "inf"):
        if a.dtype != np.float32:
            return "float32-" + k, np.full(a.shape, np.nan if k == "nan" else np.inf, np.float32)
        b = a.copy()
        flat = b.reshape(-1)
        idx = rng.integers(0, flat.size, max(1, flat.size // 7))
        flat[idx] = np.nan if k == "nan" else rng.choice([np.inf, -np.inf])
        return k, b
    if k == "channels":
        return k, np.repeat(a[..., None] if a.ndim == 2 else a, 2, axis=-1)
    return k, a.tolist()


def spoil_scalar(rng: np.random.Generator) -> tuple[str, object]:
    pool = [("huge-int", HUGE_INT), ("-huge-int", -HUGE_INT), ("nan", float("nan")), ("inf", float("inf")),
            ("neg", -1.0), ("zero", 0), ("tiny", 1e-200), ("bool", True), ("str", "5"), ("complex", 1 + 2j),
            ("none", None), ("0d", np.array(0.5)), ("1d", np.array([1.0, 2.0])), ("big", 1e39),
            ("list", [1]), ("np-float32", np.float32(0.25)), ("np-int", np.int64(3))]
    return pool[rng.integers(len(pool))]


def spoil_matrix(rng: np.random.Generator, m: np.ndarray) -> tuple[str, object]:
    kinds = ["complex", "singular", "huge", "inv-overflow", "nan", "inf", "object-huge", "str", "shape",
             "list", "int", "bool", "torch-grad", "near-singular", "ragged"]
    k = kinds[rng.integers(len(kinds))]
    if k == "complex":
        return k, m.astype(np.complex128) + 1j
    if k == "singular":
        return k, np.array([[1.0, 2.0, 0.0], [2.0, 4.0, 0.0]])
    if k == "huge":
        return k, m * 1e35
    if k == "inv-overflow":
        return k, np.array([[1e-39, 1e39, 0.0], [0.0, 1e39, 0.0]])
    if k in ("nan", "inf"):
        b = m.copy()
        b.reshape(-1)[rng.integers(b.size)] = np.nan if k == "nan" else np.inf
        return k, b
    if k == "object-huge":
        b = m.astype(object)
        b.reshape(-1)[2] = HUGE_INT
        return k, b
    if k == "str":
        return k, "[[1, 0, 0], [0, 1, 0]]"
    if k == "shape":
        return k, m[..., :2]
    if k == "list":
        return k, m.tolist()
    if k == "int":
        return k, np.array([[1, 0, -2], [0, 1, -3]])
    if k == "bool":
        return k, np.ones((2, 3), bool)
    if k == "torch-grad":
        try:
            import torch
        except ImportError:
            return "list", m.tolist()
        return k, torch.tensor(m, requires_grad=True)
    if k == "near-singular":
        return k, np.array([[1e-30, 0.0, 0.0], [0.0, 1e-30, 0.0]])
    return k, [[1.0, 0.0, 0.0], [0.0, 1.0]]
