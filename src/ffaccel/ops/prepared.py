"""``prepare``: check an op's arguments once, then call it every frame at launch cost.

A face swapper calls the same ops on arrays of the same shapes every frame. A *plan*
keeps what the op's checks worked out for one example call (image geometry, kernel mode,
stream reader, allocator) and each call re-checks only what can change cheaply:

- each array's signature (kind, shape, strides, dtype, device; writeability of outputs) against
  the prepared one: a tuple comparison;
- the arrays' data pointers, and that no output byte overlaps an input;
- the affine matrices: shape, finiteness, invertibility (the same rules as the op).

A call whose arrays differ from the prepared ones, or whose matrix or overlap the plan
would not accept, is handed to the plain op with the plan's fixed arguments: it raises
the plain op's named ``ValueError``/``TypeError`` before anything is written, or, for
valid arrays of another shape, simply runs at the plain call's cost. A plan reads the
framework's current stream at each call, never synchronises and allocates nothing when
``out`` is given, so a call can be captured in a CUDA graph.

Tests: ``tests/ops/test_prepared.py``. Docs: docs/runtime.md, "Prepared calls".
"""

from __future__ import annotations

import inspect
from typing import Any

from ffaccel import _fast
from ffaccel.ops.feather_mask import check as _mask_check
from ffaccel.ops.feather_mask import feather_mask as _feather_mask
from ffaccel.ops.paste_back import check as _paste_check
from ffaccel.ops.paste_back import paste_back as _paste_back
from ffaccel.ops.paste_back import paste_back_batch as _paste_back_batch
from ffaccel.ops.paste_insightface import _modes as _insightface_modes
from ffaccel.ops.paste_insightface import check as _insightface_check
from ffaccel.ops.paste_insightface import paste_back_insightface as _paste_back_insightface
from ffaccel.ops.warp_affine import check as _warp_check
from ffaccel.ops.warp_affine import warp_affine as _warp_affine
from ffaccel.ops.warp_affine import warp_affine_batch as _warp_affine_batch

__all__ = ["prepare", "WarpPlan", "PastePlan", "FeatherPlan", "InsightfacePlan"]


def _same(x: Any, sig: tuple | None) -> bool:
    return (x is None) if sig is None else _fast.out_signature(x) == sig


class _Plan:
    """Common part: the op, its fixed keyword arguments and the prepared signatures."""

    op: Any
    fixed: dict[str, Any]

    def __repr__(self) -> str:
        shapes = ", ".join(f"{n}={tuple(s[1])}" for n, s in zip(self._names, self._sigs) if s is not None)
        return f"{type(self).__name__}({self.op.__name__}, {shapes})"


class WarpPlan(_Plan):
    """A prepared :func:`~ffaccel.warp_affine` or :func:`~ffaccel.warp_affine_batch`.

    Call it as ``plan(src, matrix, out=out)``; ``dsize``, ``border``, ``border_value``
    and ``compat`` are those of the example call. The result is the same bytes as the
    plain op's. Make it with :func:`prepare`.
    """

    _names = ("src", "out")

    def __init__(self, op: Any, args: dict[str, Any]) -> None:
        self.op = op
        self.batched = op is _warp_affine_batch
        mname = "matrices" if self.batched else "matrix"
        self.fixed = {k: args[k] for k in ("dsize", "border", "border_value", "compat")}
        self._spec = _warp_check(args["src"], args[mname], args["dsize"], args["border"], args["border_value"],
                                 args["compat"], args["out"], self.batched)[0]
        self._sigs = (_fast.signature(args["src"]),
                      _fast.out_signature(args["out"]) if args["out"] is not None else None)

    def __call__(self, src: Any, matrix: Any, *, out: Any = None) -> Any:
        """Warp ``src`` through ``matrix`` ((2, 3), or (N, 2, 3) for the batch form) into
        ``out`` (or a new array); returns the result as the plain op does."""
        sigs = self._sigs
        if _fast.signature(src) == sigs[0] and _same(out, sigs[1]):
            result = self._spec.fast_call(src, matrix, out)
            if result is not None:
                return result
        return self.op(src, matrix, **self.fixed, out=out)


class PastePlan(_Plan):
    """A prepared :func:`~ffaccel.paste_back` or :func:`~ffaccel.paste_back_batch`.

    Call it as ``plan(frame, crop, mask, matrix, out=out)``; ``compat``, ``inplace``,
    ``blend`` and ``levels`` are those of the example call (a multiband plan checks the
    arrays once but still allocates its per-call workspace, so it always takes the plain
    op). Make it with :func:`prepare`.
    """

    _names = ("frame", "crop", "mask", "out")

    def __init__(self, op: Any, args: dict[str, Any]) -> None:
        self.op = op
        self.batched = op is _paste_back_batch
        c, m, mat = ("crops", "masks", "matrices") if self.batched else ("crop", "mask", "matrix")
        self.fixed = {k: args[k] for k in ("compat", "inplace", "blend", "levels")}
        self._spec = _paste_check(args["frame"], args[c], args[m], args[mat], args["compat"], args["inplace"],
                                  args["out"], self.batched, args["blend"], args["levels"])[0]
        out = args["out"]
        frame_sig = _fast.out_signature if args["inplace"] is True else _fast.signature
        self._sigs = (frame_sig(args["frame"]), _fast.signature(args[c]), _fast.signature(args[m]),
                      _fast.out_signature(out) if out is not None else None)
        self._frame_sig = frame_sig

    def __call__(self, frame: Any, crop: Any, mask: Any, matrix: Any, *, out: Any = None) -> Any:
        """Paste ``crop`` (``crops`` for the batch form) through ``mask`` and ``matrix`` into
        ``frame``; returns a new frame, ``out``, or ``frame`` for an in-place plan."""
        sigs = self._sigs
        if (not self._spec.levels and self._frame_sig(frame) == sigs[0] and _fast.signature(crop) == sigs[1]
                and _fast.signature(mask) == sigs[2] and _same(out, sigs[3])):
            result = self._spec.fast_call(frame, crop, mask, matrix, out)
            if result is not None:
                return result
        return self.op(frame, crop, mask, matrix, **self.fixed, out=out)


class FeatherPlan(_Plan):
    """A prepared :func:`~ffaccel.feather_mask`: ``plan(mask, out=out)`` with the example's
    ``sigma``. Make it with :func:`prepare`."""

    _names = ("mask", "out")

    def __init__(self, op: Any, args: dict[str, Any]) -> None:
        self.op = op
        self.fixed = {"sigma": args["sigma"]}
        self._spec = _mask_check(args["mask"], args["sigma"], args["out"])[0]
        out = args["out"]
        self._sigs = (_fast.signature(args["mask"]), _fast.out_signature(out) if out is not None else None)

    def __call__(self, mask: Any, *, out: Any = None) -> Any:
        """Blur ``mask`` into ``out`` (or a new array); returns the result."""
        if _fast.signature(mask) == self._sigs[0] and _same(out, self._sigs[1]):
            result = self._spec.fast_call(mask, out)
            if result is not None:
                return result
        return self.op(mask, out=out, **self.fixed)


class InsightfacePlan(_Plan):
    """A prepared :func:`~ffaccel.paste_back_insightface`: ``plan(frame, crop, matrix, out=out)``
    with the example's ``compat`` and ``inplace``. ``compat="insightface"`` is resolved to
    the installed OpenCV's generation once, when the plan is made. Make it with :func:`prepare`."""

    _names = ("frame", "crop", "out")

    def __init__(self, op: Any, args: dict[str, Any]) -> None:
        self.op = op
        self.fixed = {"compat": args["compat"], "inplace": args["inplace"]}
        self._modes = _insightface_modes(args["compat"])
        # None where the example's frame or crop is copied before it is read (a non-contiguous
        # numpy array): every call then takes the plain op.
        self._spec = _insightface_check(args["frame"], args["crop"], args["matrix"], args["inplace"], args["out"])[0]
        out = args["out"]
        self._frame_sig = _fast.out_signature if args["inplace"] is True else _fast.signature
        self._sigs = (self._frame_sig(args["frame"]), _fast.signature(args["crop"]),
                      _fast.out_signature(out) if out is not None else None)

    def __call__(self, frame: Any, crop: Any, matrix: Any, *, out: Any = None) -> Any:
        """Paste ``crop`` into ``frame`` through ``matrix`` as the op does; returns a new frame,
        ``out``, or ``frame`` for an in-place plan."""
        sigs = self._sigs
        if (self._spec is not None and self._frame_sig(frame) == sigs[0] and _fast.signature(crop) == sigs[1]
                and _same(out, sigs[2])):
            result = self._spec.fast_call(frame, crop, matrix, out, *self._modes)
            if result is not None:
                return result
        return self.op(frame, crop, matrix, **self.fixed, out=out)


_PLANS: dict[str, tuple[Any, type[_Plan]]] = {
    "warp_affine": (_warp_affine, WarpPlan),
    "warp_affine_batch": (_warp_affine_batch, WarpPlan),
    "paste_back": (_paste_back, PastePlan),
    "paste_back_batch": (_paste_back_batch, PastePlan),
    "feather_mask": (_feather_mask, FeatherPlan),
    "paste_back_insightface": (_paste_back_insightface, InsightfacePlan),
}


def prepare(op: Any, *args: Any, **kwargs: Any) -> WarpPlan | PastePlan | FeatherPlan | InsightfacePlan:
    """Check a call of ``op`` once and return a plan that repeats it at launch cost.

    Args:
        op: :func:`~ffaccel.warp_affine`, :func:`~ffaccel.warp_affine_batch`,
            :func:`~ffaccel.paste_back`, :func:`~ffaccel.paste_back_batch`,
            :func:`~ffaccel.feather_mask` or :func:`~ffaccel.paste_back_insightface`
            (the function or its name).
        *args, **kwargs: an example call of ``op``, exactly as the op takes it: arrays
            of the shapes, dtypes, strides and device every later call will pass, and
            the scalar arguments the plan keeps. Nothing is written.

    Returns:
        A :class:`WarpPlan`, :class:`PastePlan`, :class:`FeatherPlan` or
        :class:`InsightfacePlan`. Its call takes the per-frame arguments only:
        ``plan(src, matrix, out=...)``, ``plan(frame, crop, mask, matrix, out=...)``,
        ``plan(mask, out=...)`` or ``plan(frame, crop, matrix, out=...)``, and
        gives the same bytes as the plain op. Arrays of another signature, a bad matrix
        or overlapping buffers go to the plain op, which raises its named error before
        writing anything. A plan may be called from several threads.

    Raises:
        TypeError, ValueError: ``op`` is not one of the ops above, the example call does
            not bind to its parameters, or it fails the op's own checks (named as the op
            names them).

    Example:
        >>> import numpy as np, ffaccel
        >>> frame = np.zeros((480, 640, 3), np.uint8)
        >>> crop = np.empty((128, 128, 3), np.uint8)
        >>> M = np.array([[1.0, 0.0, -100.0], [0.0, 1.0, -50.0]])
        >>> warp = ffaccel.prepare(ffaccel.warp_affine, frame, M, (128, 128), out=crop)
        >>> mask = np.ones((128, 128), np.float32)
        >>> paste = ffaccel.prepare(ffaccel.paste_back, frame, crop, mask, M, inplace=True)
        >>> for x in (100.0, 300.0):  # every frame: no checks beyond pointers and the matrix
        ...     M[0, 2] = -x
        ...     _ = warp(frame, M, out=crop)
        ...     crop[:] = 200  # the swapped face
        ...     _ = paste(frame, crop, mask, M)
        >>> int(frame[100, 150, 0]), int(frame[100, 350, 0]), int(frame[10, 10, 0])
        (200, 200, 0)
        >>> paste(frame, crop, mask, np.zeros((2, 3)))
        Traceback (most recent call last):
        ...
        ValueError: matrix: expected an invertible matrix, got determinant 0.0 (matrix 0)
    """
    name = op if isinstance(op, str) else getattr(op, "__name__", None)
    entry = _PLANS.get(name) if isinstance(name, str) else None
    if entry is None or not (isinstance(op, str) or op is entry[0]):
        raise ValueError(f"op: expected one of {tuple(_PLANS)} (the function or its name), got {op!r}")
    fn, plan = entry
    try:
        bound = inspect.signature(fn).bind(*args, **kwargs)
    except TypeError as exc:
        raise TypeError(f"{name}: {exc}") from None
    bound.apply_defaults()
    return plan(fn, dict(bound.arguments))
