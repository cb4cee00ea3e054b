"""The replacement functions the FaceFusion adapter installs (private).

:class:`Backend` holds what a replacement needs: the loaded ffaccel ops, cv2, the mode,
the OpenCV generation found at install, and the device. Its three methods have the
signatures of FaceFusion's ``warp_face_by_face_landmark_5``, ``paste_back`` and
``create_box_mask``. Each checks that its arguments are ones ffaccel reproduces (dtypes,
shapes, a finite invertible matrix, a paste area that is not empty); anything else goes
to FaceFusion's own function, so unusual inputs keep stock behaviour, errors included.
"""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Callable
from typing import Any

import numpy as np

__all__ = ["MODES", "Backend", "load_ffaccel"]

_log = logging.getLogger("ffaccel.integrations.facefusion")

#: ``mode`` values.
MODES = ("exact", "fast")


def load_ffaccel() -> Any:
    """Import ffaccel's compiled core and ops; raises whatever the import raises.

    Importing ``ffaccel._core`` through importlib (not a cached name) is what lets a
    broken or missing extension be seen here, at install, instead of in FaceFusion's
    worker threads.
    """
    import importlib

    importlib.import_module("ffaccel._core")
    return importlib.import_module("ffaccel.ops")


def opencv_generation(cv2: Any) -> str:
    """The compat mode (``"opencv4"`` or ``"opencv5.0"``) that reproduces ``cv2``'s warps.

    Delegates to :func:`ffaccel.opencv_compat.opencv_compat_mode`, which raises
    :class:`ffaccel.opencv_compat.OpenCVVersionError` (a ValueError) naming the version when
    no mode matches it (OpenCV 4.14, 5.1 with IPP on, releases not verified).
    """
    from ffaccel.opencv_compat import opencv_compat_mode

    return opencv_compat_mode(cv2)


class _Gpu:
    """Upload/download for ``device=`` on numpy arrays, through cupy or torch."""

    def __init__(self, index: int) -> None:
        self.index = index
        self.cp: Any = None
        self.torch: Any = None
        try:
            import cupy

            with cupy.cuda.Device(index):
                cupy.zeros(1)
            self.cp = cupy
            return
        except Exception:
            pass
        import torch

        if not torch.cuda.is_available() or index >= torch.cuda.device_count():
            raise RuntimeError(f"CUDA device {index} is not available to torch")
        self.torch = torch

    def up(self, a: np.ndarray) -> Any:
        if self.cp is not None:
            with self.cp.cuda.Device(self.index):
                return self.cp.asarray(a)
        return self.torch.from_numpy(np.ascontiguousarray(a)).to(f"cuda:{self.index}")

    def down(self, a: Any) -> np.ndarray:
        if self.cp is not None:
            return self.cp.asnumpy(a)
        return a.cpu().numpy()


def _parse_device(device: Any) -> int | None:
    if device is None or device == "cpu":
        return None
    if isinstance(device, bool):
        raise TypeError(f"device: expected None, 'cpu', 'cuda', 'cuda:N' or an int, got {device!r}")
    if isinstance(device, int):
        if device < 0:
            raise ValueError(f"device: a CUDA index must be >= 0, got {device}")
        return device
    if isinstance(device, str) and (device == "cuda" or device.startswith("cuda:")):
        rest = device[5:] if device.startswith("cuda:") else "0"
        if rest.isdigit():
            return int(rest)
    raise ValueError(f"device: expected None, 'cpu', 'cuda', 'cuda:N' or an int, got {device!r}")


class Backend:
    """ffaccel versions of FaceFusion's helpers for one ``install`` call.

    Args:
        ops: the ``ffaccel.ops`` module (from :func:`load_ffaccel`).
        cv2: the ``cv2`` module FaceFusion uses.
        mode: ``"exact"`` or ``"fast"``.
        device: ``None``/``"cpu"``, ``"cuda"``, ``"cuda:N"`` or an index; only for
            ``mode="fast"``. If the GPU cannot be used, the CPU path is used and one
            warning is logged.
    """

    def __init__(self, ops: Any, cv2: Any, mode: str, device: Any = None) -> None:
        if mode not in MODES:
            raise ValueError(f"mode: expected one of {MODES}, got {mode!r}")
        index = _parse_device(device)
        if index is not None and mode == "exact":
            raise ValueError("device: the GPU path is only for mode='fast' (mode='exact' follows OpenCV's CPU bytes)")
        self.ops = ops
        self.cv2 = cv2
        import importlib

        # the fused float64 blend (exact mode's path for hyperswap-like crops); None in an
        # older extension without it (those pastes then stay stock's)
        self._blend_f64 = getattr(importlib.import_module("ffaccel._core"), "facefusion_blend_f64", None)
        self.mode = mode
        # exact mode must reproduce this cv2: refuse at install if no mode does. fast mode
        # does not depend on it; the status just reports None then.
        if mode == "exact":
            self.generation: str | None = opencv_generation(cv2)
        else:
            try:
                self.generation = opencv_generation(cv2)
            except ValueError:
                self.generation = None
        self.warp_compat: str | None = self.generation if mode == "exact" else None
        self.paste_compat: str | None = f"facefusion-{self.generation}" if mode == "exact" else None
        self.gpu: _Gpu | None = None
        self.gpu_reason = ""
        if index is not None:
            try:
                import ffaccel

                if not ffaccel.status(frameworks=False).get("cuda_built"):
                    raise RuntimeError("this ffaccel build has no CUDA kernels")
                self.gpu = _Gpu(index)
            except Exception as exc:
                self.gpu_reason = f"{type(exc).__name__}: {exc}"
                _log.warning("ffaccel: CUDA device %s unavailable (%s); using ffaccel's CPU path", device,
                             self.gpu_reason)
        self._box_cache: dict[tuple[Any, ...], np.ndarray] = {}
        self._box_lock = threading.Lock()
        self.fallbacks = 0  # calls handed to FaceFusion's own function (unsupported arguments)

    # ---- warp ---------------------------------------------------------------------------------
    def estimate_matrix(self, templates: Any, landmark_5: Any, warp_template: Any, crop_size: Any) -> Any:
        """FaceFusion's matrix: estimateAffinePartial2D(RANSAC, threshold 100) to the scaled template."""
        target = templates.get(warp_template) * crop_size
        return self.cv2.estimateAffinePartial2D(landmark_5, target, method=self.cv2.RANSAC,
                                                ransacReprojThreshold=100)[0]

    def warp(self, original: Callable[..., Any], templates: Any, frame: Any, landmark_5: Any, warp_template: Any,
             crop_size: Any) -> tuple[Any, Any]:
        """``warp_face_by_face_landmark_5`` through ffaccel; ``original`` for anything unusual."""
        if not (isinstance(frame, np.ndarray) and frame.dtype == np.uint8 and frame.ndim == 3
                and frame.shape[2] in (3, 4) and frame.shape[0] > 0 and frame.shape[1] > 0):
            return self._fallback(original, frame, landmark_5, warp_template, crop_size)
        try:
            size = (int(crop_size[0]), int(crop_size[1]))
            matrix = self.estimate_matrix(templates, landmark_5, warp_template, crop_size)
        except Exception:
            return self._fallback(original, frame, landmark_5, warp_template, crop_size)
        if matrix is None or not np.all(np.isfinite(matrix)) or size[0] <= 0 or size[1] <= 0:
            return self._fallback(original, frame, landmark_5, warp_template, crop_size)
        try:
            crop = self._warp(np.ascontiguousarray(frame), matrix, size)
        except (ValueError, TypeError):
            return self._fallback(original, frame, landmark_5, warp_template, crop_size)
        return crop, matrix

    def _warp(self, frame: np.ndarray, matrix: np.ndarray, size: tuple[int, int]) -> np.ndarray:
        if self.gpu is not None:
            out = self.ops.warp_affine(self.gpu.up(frame), matrix, size, border="replicate", compat=None)
            return self.gpu.down(out)
        return self.ops.warp_affine(frame, matrix, size, border="replicate", compat=self.warp_compat)

    # ---- paste --------------------------------------------------------------------------------
    def paste(self, original: Callable[..., Any], frame: Any, crop: Any, mask: Any, matrix: Any) -> Any:
        """``paste_back`` through ffaccel; ``original`` for anything unusual."""
        if self.mode == "exact" and isinstance(crop, np.ndarray) and crop.dtype == np.float64:
            out = self.paste_float64(frame, crop, mask, matrix)
            return out if out is not None else self._fallback(original, frame, crop, mask, matrix)
        crop = self.fast_crop(crop)
        if not self.paste_supported(frame, crop, mask, matrix):
            return self._fallback(original, frame, crop, mask, matrix)
        try:
            return self._paste(np.ascontiguousarray(frame), np.ascontiguousarray(crop), np.ascontiguousarray(mask),
                               np.asarray(matrix, np.float64))
        except (ValueError, TypeError):
            return self._fallback(original, frame, crop, mask, matrix)

    def paste_float64(self, frame: Any, crop: np.ndarray, mask: Any, matrix: Any) -> np.ndarray | None:
        """Exact mode's ``paste_back`` of a float64 crop, or None where it would not be stock's bytes.

        Stock's own steps with the blend fused: FaceFusion's ``calculate_paste_area``, the same
        two ``cv2.warpAffine`` calls as stock (float32 mask, float64 crop with replicated
        border), then ``_core.facefusion_blend_f64``, which computes
        ``region * (1 - mask) + crop * mask`` and ``astype(uint8)`` in one pass with numpy's
        float32/float64 promotion and rounding. None (the caller runs stock) for a float32
        mask not 2-D and crop-shaped, a non-uint8 frame, a matrix that is not finite, an
        empty paste area, an OpenCV error, or a blended value outside 0..255 (where numpy's
        uint8 conversion is undefined).
        """
        area_fn = getattr(sys.modules.get("facefusion.face_helper"), "calculate_paste_area", None)
        if self._blend_f64 is None or not callable(area_fn):
            return None
        if not (isinstance(frame, np.ndarray) and frame.dtype == np.uint8 and frame.ndim == 3
                and frame.shape[2] in (3, 4) and crop.ndim == 3 and crop.shape[2] == frame.shape[2]
                and isinstance(mask, np.ndarray) and mask.dtype == np.float32 and mask.shape == crop.shape[:2]
                and isinstance(matrix, np.ndarray) and matrix.shape == (2, 3) and np.all(np.isfinite(matrix))):
            return None
        cv2 = self.cv2
        try:
            (x1, y1, x2, y2), paste_matrix = area_fn(frame, crop, matrix)
            if not (x2 > x1 and y2 > y1):
                return None
            size = (x2 - x1, y2 - y1)
            inverse_mask = cv2.warpAffine(mask, paste_matrix, size).clip(0, 1)
            inverse_crop = cv2.warpAffine(crop, paste_matrix, size, borderMode=cv2.BORDER_REPLICATE)
            out = frame.copy()
            ok = self._blend_f64(out[y1:y2, x1:x2], np.ascontiguousarray(inverse_mask, np.float32),
                                 np.ascontiguousarray(inverse_crop, np.float64))
        except Exception:  # stock then runs and raises (or not) as it would have
            return None
        return out if ok else None

    def fast_crop(self, crop: Any) -> Any:
        """In fast mode, a float64 crop as float32 (else ``crop`` unchanged).

        FaceFusion's swappers that de-normalise with a mean and standard deviation
        (hyperswap, FaceFusion 3.3+'s default, and ghost, hififace, uniface) multiply by
        Python lists, so the crop reaching ``paste_back`` is float64. ffaccel's paste kernel has
        no float64 path; exact mode pastes them with :meth:`paste_float64` (stock's arithmetic),
        fast mode blends them in float32 like every other crop.
        """
        if self.mode == "fast" and isinstance(crop, np.ndarray) and crop.dtype == np.float64:
            return crop.astype(np.float32)
        return crop

    def paste_supported(self, frame: Any, crop: Any, mask: Any, matrix: Any) -> bool:
        """True when ffaccel reproduces FaceFusion's paste_back for these arguments."""
        if not (isinstance(frame, np.ndarray) and isinstance(crop, np.ndarray) and isinstance(mask, np.ndarray)
                and isinstance(matrix, np.ndarray)):
            return False
        if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] not in (3, 4):
            return False
        if crop.dtype not in (np.uint8, np.float32) or crop.ndim != 3 or crop.shape[2] != frame.shape[2]:
            return False
        if mask.dtype != np.float32 or mask.shape != crop.shape[:2] or 0 in crop.shape:
            return False
        if matrix.shape != (2, 3) or not np.all(np.isfinite(matrix)):
            return False
        if self.mode == "exact" and crop.dtype == np.float32:
            # Outside 0..255 numpy's astype(uint8) wraps (or is undefined) where ffaccel
            # saturates: leave such crops to stock. NaN fails both compares.
            lo, hi = crop.min(), crop.max()
            if not (lo >= 0 and hi <= 255):
                return False
        from ffaccel.ops.paste_back import paste_areas  # self.ops is loaded: a plain import

        try:
            area = paste_areas((frame.shape[1], frame.shape[0]), (crop.shape[1], crop.shape[0]),
                               matrix, facefusion=True)[0]
        except (ValueError, TypeError):
            return False
        # An empty paste area makes stock call warpAffine with a zero size (OpenCV then
        # uses the source size) and fail to broadcast: leave that to stock.
        return bool(area[2] > area[0] and area[3] > area[1])

    def _paste(self, frame: np.ndarray, crop: np.ndarray, mask: np.ndarray, matrix: np.ndarray) -> np.ndarray:
        if self.gpu is not None:
            out = self.ops.paste_back(self.gpu.up(frame), self.gpu.up(crop), self.gpu.up(mask), matrix, compat=None)
            return self.gpu.down(out)
        return self.ops.paste_back(frame, crop, mask, matrix, compat=self.paste_compat)

    # ---- box mask -----------------------------------------------------------------------------
    def box_mask(self, original: Callable[..., Any], crop: Any, blur: Any, padding: Any) -> Any:
        """``create_box_mask``, cached per (crop height, width, blur, padding); a fresh copy each call.

        ``mode="exact"`` caches FaceFusion's own result (computed once per argument set
        with its OpenCV blur), so it is byte-identical; ``mode="fast"`` caches
        ``ffaccel.box_mask`` (within 1e-6 of OpenCV).
        """
        try:
            h, w = int(crop.shape[0]), int(crop.shape[1])
            key = (h, w, float(blur), tuple(float(p) for p in padding))
            if len(key[3]) != 4:
                raise ValueError("padding")
        except Exception:
            return self._fallback(original, crop, blur, padding)
        cached = self._box_cache.get(key)
        if cached is None:
            if self.mode == "exact" or h != w:
                # Stock makes a (W, H) array for non-square crops; only its own code reproduces that.
                cached = np.array(original(crop, blur, padding))
            else:
                try:
                    cached = np.array(self.ops.box_mask((w, h), float(blur), key[3]))
                except (ValueError, TypeError):
                    return self._fallback(original, crop, blur, padding)
            cached.flags.writeable = False
            with self._box_lock:
                if len(self._box_cache) > 256:
                    self._box_cache.clear()
                self._box_cache[key] = cached
        return cached.copy()

    def _fallback(self, original: Callable[..., Any], *args: Any) -> Any:
        self.fallbacks += 1
        return original(*args)
