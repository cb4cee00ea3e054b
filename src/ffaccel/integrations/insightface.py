"""ffaccel inside insightface's INSwapper (roop and forks, ReActor, Deep-Live-Cam before 2.7, ...).

Two lines, before the application swaps anything::

    import ffaccel.integrations.insightface as ffi
    ffi.install()

:func:`install` replaces ``insightface.model_zoo.inswapper.INSwapper.get`` (the class
attribute, so every swapper ``insightface.model_zoo.get_model`` returns, before or after,
is accelerated). ``get(img, target_face, source_face, paste_back=True)`` then runs
stock's own alignment and model call, and pastes with
:func:`ffaccel.ops.paste_back_insightface`: the same bytes as stock under the installed
OpenCV (4.x or 5.0), computed over the face only. :func:`uninstall` puts the original
function back. ``python -m ffaccel.integrations.insightface --help`` says the same.
Applications that paste themselves (``paste_back=False``: Deep-Live-Cam since 2.7,
ReActor's Face Boost) keep their own paste; with a stabiliser installed, their crop and
matrix follow the smoothed points. See docs/insightface.md ("Which applications it
reaches").
"""

from __future__ import annotations

import argparse
import importlib
import logging
import threading
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ffaccel.integrations.insightface_stabilize import KpsStabilizer

__all__ = ["KpsStabilizer", "install", "installed_options", "is_installed", "main", "uninstall"]

_log = logging.getLogger("ffaccel.integrations.insightface")
_lock = threading.RLock()
_state: dict[str, Any] = {}
_warned: set[str] = set()


def _warn_once(key: str, message: str) -> None:
    with _lock:
        if key in _warned:
            return
        _warned.add(key)
    warnings.warn(message, RuntimeWarning, stacklevel=3)


class _Backend:
    """What the replacement ``get`` needs: the op, the compat mode, the stock function."""

    def __init__(self, ops: Any, compat: str, original: Callable[..., Any], stabilizer: KpsStabilizer | None) -> None:
        self.paste = ops.paste_back_insightface
        self.compat = compat
        self.original = original
        self.stabilizer = stabilizer
        self.fallbacks = 0
        self.calls = 0

    def unhandled(self, swapper: Any, img: Any, target_face: Any) -> str | None:
        """Why ffaccel does not take this call (None: it does)."""
        if type(img) is not np.ndarray:
            return f"frame of type {type(img).__name__} (numpy expected)"
        if img.dtype != np.uint8 or img.ndim != 3 or img.shape[2] != 3:
            return f"frame of dtype {img.dtype} and shape {img.shape} ((H, W, 3) uint8 expected)"
        if getattr(target_face, "kps", None) is None:
            return "target face without kps"
        size = getattr(swapper, "input_size", None)
        if not (isinstance(size, tuple) and len(size) == 2 and size[0] == size[1]):
            return f"model input size {size!r} (square expected)"
        return None

    def get(self, swapper: Any, img: Any, target_face: Any, source_face: Any, paste_back: bool = True) -> Any:
        if not paste_back:
            # (crop, M) for an application that pastes itself (Deep-Live-Cam since 2.7,
            # ReActor's Face Boost): nothing to paste, but with a stabiliser stock aligns on
            # the smoothed points, so that application's own paste follows them
            if self.stabilizer is not None and getattr(target_face, "kps", None) is not None:
                target_face = _with_kps(target_face, self.stabilizer.kps_for(img, target_face))
            return self.original(swapper, img, target_face, source_face, paste_back)
        why = self.unhandled(swapper, img, target_face)
        if why is not None:
            self.fallbacks += 1
            _warn_once("input:" + why.split(" ")[0], f"ffaccel.integrations.insightface: {why}; this call runs "
                       "stock insightface (warned once)")
            return self.original(swapper, img, target_face, source_face, paste_back)
        import cv2
        from insightface.utils import face_align

        kps = target_face.kps
        if self.stabilizer is not None:
            kps = self.stabilizer.kps_for(img, target_face)
        # Stock get() up to the paste, verbatim (insightface 2.1, model_zoo/inswapper.py).
        aimg, M = face_align.norm_crop2(img, kps, swapper.input_size[0])
        blob = cv2.dnn.blobFromImage(aimg, 1.0 / swapper.input_std, swapper.input_size,
                                     (swapper.input_mean, swapper.input_mean, swapper.input_mean), swapRB=True)
        latent = source_face.normed_embedding.reshape((1, -1))
        latent = np.dot(latent, swapper.emap)
        latent /= np.linalg.norm(latent)
        pred = swapper.session.run(swapper.output_names, {swapper.input_names[0]: blob,
                                                           swapper.input_names[1]: latent})[0]
        img_fake = pred.transpose((0, 2, 3, 1))[0]
        bgr_fake = np.clip(255 * img_fake, 0, 255).astype(np.uint8)[:, :, ::-1]
        # The op would copy stock's channel-reversed view itself; copied here, the crop has
        # the same signature every frame, so every call after the first skips the op's checks.
        bgr_fake = np.ascontiguousarray(bgr_fake)
        try:
            out = self.paste(img, bgr_fake, M, compat=self.compat)
        except Exception as exc:  # a broken extension never breaks the host
            self.fallbacks += 1
            _warn_once("paste", f"ffaccel.integrations.insightface: the paste failed ({type(exc).__name__}: {exc}); "
                       "calls run stock insightface from now on where it fails (warned once)")
            return self.original(swapper, img, target_face, source_face, paste_back)
        self.calls += 1
        return out


def _with_kps(face: Any, kps: Any) -> Any:
    """A shallow copy of ``face`` (insightface's ``Face`` is a dict with attribute access)
    whose ``kps`` are ``kps``; the caller's face is left as it was."""
    if isinstance(face, dict):
        copy = type(face)(face)
        copy["kps"] = kps
        return copy
    import copy as _copy

    other = _copy.copy(face)
    other.kps = kps
    return other


def _load() -> tuple[Any, Any, Any]:
    """(ffaccel.ops, insightface's inswapper module, cv2); raises what the imports raise."""
    importlib.import_module("ffaccel._core")
    ops = importlib.import_module("ffaccel.ops")
    inswapper = importlib.import_module("insightface.model_zoo.inswapper")
    cv2 = importlib.import_module("cv2")
    return ops, inswapper, cv2


def install(stabilize: bool | KpsStabilizer = False) -> bool:
    """Route ``INSwapper.get(..., paste_back=True)`` through ffaccel's exact paste.

    Args:
        stabilize: ``False`` (default): exact, frame-by-frame as stock. ``True``: a new
            :class:`KpsStabilizer` (per-face causal landmark filter, for live video);
            or your own :class:`KpsStabilizer`. The smoothed 5 points feed
            ``face_align.norm_crop2``, in ``paste_back=False`` calls too; the output is
            then no longer stock's bytes (the alignment differs), only steadier.

    Returns:
        True when the patch is in place; False when ffaccel, insightface or a supported
        OpenCV (4.x up to 4.13, 5.0, 5.1 with IPP off) is missing: one warning, and the application runs stock.

    Calling it again with the same arguments does nothing; with other arguments it
    replaces the installation. Thread-safe.

    Raises:
        TypeError: ``stabilize`` is not a bool or a KpsStabilizer.
    """
    if not isinstance(stabilize, bool | KpsStabilizer):
        raise TypeError(f"stabilize: expected a bool or a KpsStabilizer, got {type(stabilize).__name__}")
    with _lock:
        key = stabilize if isinstance(stabilize, bool) else id(stabilize)
        if _state.get("key") == key:
            return True
        try:
            ops, inswapper, cv2 = _load()
            from ffaccel.ops.paste_insightface import insightface_generation

            compat = insightface_generation()  # reads cv2.__version__ and whether it uses IPP
        except Exception as exc:
            _warn_once("load", f"ffaccel.integrations.insightface: not installed ({type(exc).__name__}: {exc}); "
                       "insightface runs unchanged")
            uninstall()
            return False
        if _state:
            uninstall()
        cls = inswapper.INSwapper
        original = cls.__dict__["get"]
        stabilizer = KpsStabilizer() if stabilize is True else (stabilize or None)
        backend = _Backend(ops, compat, original, stabilizer)

        def get(self: Any, img: Any, target_face: Any, source_face: Any, paste_back: bool = True) -> Any:
            return backend.get(self, img, target_face, source_face, paste_back)

        get.__doc__ = original.__doc__
        get.__wrapped__ = original  # type: ignore[attr-defined]
        get._ffaccel = True  # type: ignore[attr-defined]
        cls.get = get
        _state.update(key=key, cls=cls, original=original, backend=backend)
        return True


def uninstall() -> None:
    """Put insightface's original ``INSwapper.get`` back (the same object). Idempotent."""
    with _lock:
        cls, original = _state.get("cls"), _state.get("original")
        if cls is not None and getattr(cls.__dict__.get("get"), "_ffaccel", False):
            cls.get = original
        _state.clear()


def is_installed() -> bool:
    """True while the patch is installed."""
    with _lock:
        return bool(_state)


def installed_options() -> dict[str, Any]:
    """compat mode, stabiliser, pasted and fallback counts (empty when not installed)."""
    with _lock:
        if not _state:
            return {}
        b: _Backend = _state["backend"]
        return {"compat": b.compat, "stabilize": b.stabilizer, "calls": b.calls, "fallbacks": b.fallbacks}


_HELP = """\
ffaccel for insightface's INSwapper (roop, ReActor, Deep-Live-Cam before 2.7, ...).
Applications that paste themselves (Deep-Live-Cam 2.7 and later) keep their paste and
get the stabilisation only.

Add two lines to the application's launcher (run.py / main.py), before it loads models:

    import ffaccel.integrations.insightface as ffi
    ffi.install()                    # exact: the same bytes as stock, faster

For live webcam use, steadier landmarks (no longer byte-identical to stock):

    ffi.install(stabilize=True)

Or run the launcher through this module, with no edit:

    python -m ffaccel.integrations.insightface run.py [its arguments...]
"""


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m ffaccel.integrations.insightface [--stabilize] [--check] [script.py args...]``."""
    import runpy
    import sys

    parser = argparse.ArgumentParser(prog="python -m ffaccel.integrations.insightface", description=_HELP,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stabilize", action="store_true", help="per-face landmark smoothing (live video)")
    parser.add_argument("--check", action="store_true", help="install, print the state and exit")
    parser.add_argument("script", nargs="?", help="the application's launcher to run with ffaccel installed")
    parser.add_argument("args", nargs=argparse.REMAINDER, help="arguments for the launcher")
    ns = parser.parse_args(argv)
    if not ns.check and ns.script is None:
        parser.print_help()
        return 0
    ok = install(stabilize=ns.stabilize)
    if ns.check:
        print(f"installed: {ok}; {installed_options()}")
        return 0 if ok else 1
    sys.argv = [ns.script, *ns.args]
    runpy.run_path(ns.script, run_name="__main__")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
