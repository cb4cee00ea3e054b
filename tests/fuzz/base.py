"""The fuzzer's machinery shared by every generator module: a case, the seeded chooser, ``out`` builders.

A case is fully determined by ``(seed, index)``. It holds host arrays by name and a
``call(arrays)`` that builds the op call from them, so the GPU mode can run the same
case on device copies of the arrays (``out`` views that overlap an input are derived
from the arrays inside ``call``, so they overlap on the device too).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import values as V

#: Inputs the last make_out call handed back as `out` itself (an "overlap" request on an
#: input too small to hold `out` at an offset): a successful call may write them.
ALIASED: set[str] = set()

P_BAD = 0.12  # chance that one argument is replaced by a hostile value


@dataclass
class Case:
    index: int
    op: str
    tags: list[str]
    arrays: dict[str, Any]
    call: Callable[[dict[str, Any]], tuple[Callable[..., Any], tuple, dict]]
    writes: set[str] = field(default_factory=set)  # arrays a successful call may change
    exempt: bool = False  # array-level op: GPU may differ by one level (docs/api-stability.md)
    seed: int = 0
    # Prepared-call cases: the plain op's call on the same arguments (built like ``call``); the
    # runner runs it on a fresh copy of the case and wants the same status, bytes and writes.
    plain: Callable[[dict[str, Any]], tuple[Callable[..., Any], tuple, dict]] | None = None

    def describe(self) -> str:
        return f"case {self.index} {self.op}({', '.join(self.tags)})"


class _Gen:
    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng
        self.tags: list[str] = []
        self.arrays: dict[str, Any] = {}
        self.p = P_BAD  # a generator may raise it for one part of a case

    def bad(self) -> bool:
        return bool(self.rng.random() < self.p)

    def pick(self, seq):
        return seq[int(self.rng.integers(len(seq)))]

    def array(self, name: str, a: np.ndarray) -> None:
        if self.bad():
            tag, a = V.spoil_array(self.rng, a)
            self.tags.append(f"{name}={tag}")
        self.arrays[name] = a

    def scalar(self, name: str, good: Any) -> Any:
        if self.bad():
            tag, v = V.spoil_scalar(self.rng)
            self.tags.append(f"{name}={tag}")
            return v
        return good

    def matrix(self, name: str, m: np.ndarray) -> Any:
        if self.bad():
            tag, v = V.spoil_matrix(self.rng, m)
            self.tags.append(f"{name}={tag}")
            return v
        return m

    def out_spec(self, inputs: list[str], alias_ok: bool = False) -> str:
        """How `out` is given: none, fresh, or hostile (read-only, overlap, input itself, wrong dtype)."""
        r = self.rng.random()
        if r < 0.45:
            return "none"
        if r < 0.75:
            return "fresh"
        spec = self.pick(["readonly", "overlap:" + self.pick(inputs), "same:" + self.pick(inputs), "wrongdtype",
                          "wrongshape", "noncontig"])
        self.tags.append(f"out={spec}")
        return spec


def make_out(spec: str, arrays: dict[str, Any], shape: tuple, dtype) -> Any:
    """The `out` argument for ``spec``, built from ``arrays`` (numpy, cupy or torch alike)."""
    if spec == "none":
        return None
    from . import devices

    np_like = devices.ACTIVE is None
    if spec.startswith(("overlap:", "same:")):
        name = spec.split(":")[1]
        src = arrays[name]
        if not hasattr(src, "reshape"):  # a hostile non-array input (a list): a fresh out
            spec = "fresh"
        elif spec.startswith("same:"):
            ALIASED.add(name)
            return src
        else:
            n = int(np.prod(shape))
            flat = _flat_memory(src)
            if flat is not None and flat.shape[0] >= n + 1:
                return flat[1:1 + n].reshape(shape)
            ALIASED.add(name)
            return src
    if np_like:
        if spec == "readonly":
            o = np.zeros(shape, dtype)
            o.flags.writeable = False
            return o
        if spec == "wrongdtype":
            return np.zeros(shape, np.float64)
        if spec == "wrongshape":
            return np.zeros((shape[0] + 1, *shape[1:]), dtype)
        if spec == "noncontig":
            return np.zeros((shape[0], shape[1] * 2, *shape[2:]), dtype)[:, ::2]
        return np.full(shape, 7, dtype)
    return devices.empty(shape, dtype, spec)


def _affine(rng, scale_lo=0.3, scale_hi=3.0, shift=30.0) -> np.ndarray:
    a = rng.uniform(-math.pi, math.pi)
    s = math.exp(rng.uniform(math.log(scale_lo), math.log(scale_hi)))
    c, d = math.cos(a) * s, math.sin(a) * s
    return np.array([[c, -d, rng.uniform(-shift, shift)], [d, c, rng.uniform(-shift, shift)]])


def _face_matrix(rng: np.random.Generator, H: int, W: int, h: int, w: int) -> np.ndarray:
    """insightface's M (frame -> crop) for an (h, w) crop pasted as a face of 0.15 to 1.3 times
    the frame's short side, centred anywhere from a fifth of the frame outside to inside."""
    s = rng.uniform(0.15, 1.3) * max(min(H, W), 4) / max(h, w)
    a = rng.uniform(-0.6, 0.6)
    c, d = math.cos(a) * s, math.sin(a) * s
    cx, cy = rng.uniform(-0.2, 1.2) * W, rng.uniform(-0.2, 1.2) * H
    to_frame = np.array([[c, -d, cx - (c * w - d * h) / 2], [d, c, cy - (d * w + c * h) / 2], [0.0, 0.0, 1.0]])
    return np.linalg.inv(to_frame)[:2]


def _hw(g: _Gen, lo=1, hi=40) -> tuple[int, int]:
    return int(g.rng.integers(lo, hi + 1)), int(g.rng.integers(lo, hi + 1))


def _flat_memory(a):
    """A 1-D view of the memory ``a``'s elements span, in ``a``'s dtype (None where there is
    none). A non-contiguous numpy array (a channels-reversed crop) is not flattened by
    ``reshape``, which would copy it: the view is made into the array that owns the memory,
    so that an ``out`` built from it really shares bytes with ``a`` (on the GPU the device
    copy is contiguous, and there it does)."""
    if not isinstance(a, np.ndarray) or a.flags.c_contiguous:
        return a.reshape(-1)
    root = a
    while isinstance(root.base, np.ndarray):
        root = root.base
    lo = a.ctypes.data + sum((n - 1) * st for n, st in zip(a.shape, a.strides) if st < 0)
    off = lo - root.ctypes.data
    count = (root.nbytes - off) // a.itemsize
    if a.size == 0 or off < 0 or not root.flags.c_contiguous or count <= 0:
        return None
    return np.ndarray((count,), a.dtype, buffer=root, offset=off)


def _view_into(a, shape: tuple, default):
    """A C-contiguous view of ``shape`` into ``a``'s memory (numpy, cupy or torch alike), one
    element in; ``default`` where ``a`` is no array or too small."""
    n = int(np.prod(shape))
    if not hasattr(a, "reshape") or isinstance(a, list) or int(np.prod(a.shape)) < n + 1:
        return default
    try:
        flat = _flat_memory(a)
        return default if flat is None or flat.shape[0] < n + 1 else flat[1:1 + n].reshape(shape)
    except (TypeError, ValueError, RuntimeError):  # a layout with no flat view
        return default
