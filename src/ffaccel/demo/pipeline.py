"""The demo's per-frame pipeline, three ways.

noisy landmarks -> [stabilise] -> align -> warp crop -> swap stand-in -> mask -> paste back

- :class:`FaceFusionPath`: every step as FaceFusion 3.5's face_helper and face_masker
  do it, with numpy and cv2 (``cv2.estimateAffinePartial2D``, ``cv2.warpAffine``, the
  box mask rebuilt with ``cv2.GaussianBlur`` for every face, the float32 numpy blend
  and ``astype`` truncation of ``paste_back``). This is the baseline.
- :class:`FfaccelCpuPath`: ffaccel's ops on numpy arrays: ``warp_affine``, the cached
  ``box_mask``, ``estimate_color_gains`` / ``apply_color_gain_linear`` and the fused
  ``paste_back(compat="facefusion-opencv5.0"/"-opencv4")``, which writes the same bytes
  as FaceFusion's.
- :class:`FfaccelCudaPath`: the same ops on torch or cupy CUDA arrays (frame uploaded
  once, downloaded once for the video writer).

The ffaccel paths need no OpenCV: without it the alignment is the numpy least-squares
similarity (:func:`estimate_similarity`) instead of ``cv2.estimateAffinePartial2D``,
and warp and paste follow OpenCV 5's bytes. Only :class:`FaceFusionPath` needs cv2.

Stabilisation is the same for every path and happens before it: ffaccel's offline
zero-lag stabiliser (:func:`ffaccel.stabilize_track`, offline mode) over the whole 5-point track, as a
two-pass tool does (detect every frame first, then swap).

The "swap" is a stand-in for a neural swapper: like a swapper's output, it is the target
crop with only the inner face replaced: the source face aligned to the same template
(computed once), optionally colour-matched to the target crop in linear light, blended
into the target crop through a fixed soft ellipse over the inner face
(``bg + alpha * (fg - bg)`` in float32, rounded half to even).
The colour statistics come from a fixed box of the crop (cheeks, nose and mouth:
rows 35-75 %, columns 30-70 %), on both crops; the gains then apply to the whole source
crop through a 3x256 lookup table (both paths do it that way: a per-channel gain on
uint8 codes has only 256 possible results per channel).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np

from ffaccel import _colorspace

__all__ = [
    "STEPS",
    "arcface_128_v2",
    "estimate_similarity",
    "have_cv2",
    "warp_compat",
    "paste_compat",
    "estimate_matrix",
    "align_source",
    "PipelineConfig",
    "FaceFusionPath",
    "FfaccelCpuPath",
    "FfaccelCudaPath",
    "cuda_backend",
]

#: Timed steps, in order. upload/download happen only on the CUDA path.
STEPS = ("upload", "align", "warp", "swap", "mask", "paste", "download")

# InsightFace's ArcFace 112x112 alignment points (the public de-facto standard); FaceFusion's
# arcface_128_v2 template is these, shifted by 8 px into a 128x128 crop and normalised.
_ARCFACE_112 = np.array([[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366], [41.5493, 92.3655],
                         [70.7299, 92.2041]])


def arcface_128_v2() -> np.ndarray:
    """(5, 2) normalised alignment template: ArcFace's 112 px points padded by 8 px into 128."""
    return (_ARCFACE_112 + 8.0) / 128.0


def estimate_similarity(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """(2, 3) least-squares similarity (rotation, uniform scale, translation) taking ``src`` to ``dst``.

    Numpy only: the closed-form minimiser of the summed squared distances between the
    mapped ``src`` (N, 2) points and ``dst`` (N, 2), for N >= 2 points not all equal.
    """
    src = np.asarray(src, np.float64)
    dst = np.asarray(dst, np.float64)
    if src.shape != dst.shape or src.ndim != 2 or src.shape[1] != 2 or src.shape[0] < 2:
        raise ValueError(f"need two (N, 2) point sets with N >= 2, got {src.shape} and {dst.shape}")
    ms, md = src.mean(axis=0), dst.mean(axis=0)
    s, d = src - ms, dst - md
    norm = float(np.sum(s * s))
    if not np.isfinite(norm) or norm <= 1e-12:
        raise ValueError("could not estimate the alignment matrix from the landmarks")
    a = float(np.sum(s[:, 0] * d[:, 0] + s[:, 1] * d[:, 1])) / norm
    b = float(np.sum(s[:, 0] * d[:, 1] - s[:, 1] * d[:, 0])) / norm
    rot = np.array([[a, -b], [b, a]])
    return np.hstack([rot, (md - rot @ ms)[:, None]])


def have_cv2() -> bool:
    """Whether OpenCV imports (the ``opencv`` extra)."""
    try:
        import cv2  # noqa: F401
    except ImportError:
        return False
    return True


def estimate_matrix(five: np.ndarray, crop_size: int, use_cv2: bool | None = None) -> np.ndarray:
    """Frame -> crop matrix from 5 landmarks, as FaceFusion's estimate_matrix_by_face_landmark_5.

    With OpenCV: ``cv2.estimateAffinePartial2D`` (similarity: rotation, uniform scale,
    translation) to the template scaled to the crop, RANSAC with a 100 px threshold,
    exactly FaceFusion's call. Without OpenCV: :func:`estimate_similarity`, the
    least-squares similarity, which is what that call returns when every point is an
    inlier (always, with 5 landmarks and a 100 px threshold), up to its iterative
    refinement's tolerance. ``use_cv2``: force one or the other (None: OpenCV if it imports).
    """
    template = arcface_128_v2() * crop_size
    if use_cv2 is None:
        use_cv2 = have_cv2()
    if not use_cv2:
        return estimate_similarity(five, template)
    import cv2

    matrix, _ = cv2.estimateAffinePartial2D(np.asarray(five, np.float32), template.astype(np.float32),
                                            method=cv2.RANSAC, ransacReprojThreshold=100)
    if matrix is None:
        raise ValueError("could not estimate the alignment matrix from the landmarks")
    return matrix


def align_source(source: np.ndarray, five: np.ndarray, crop_size: int) -> np.ndarray:
    """The source face cut out at the alignment template: the swap stand-in's output.

    ``cv2.warpAffine`` with OpenCV, else ``ffaccel.warp_affine(compat="opencv5.0")``, which gives
    OpenCV 5's bytes (``warpAffine`` treats INTER_AREA as INTER_LINEAR).
    """
    m = estimate_matrix(five, crop_size)
    try:
        import cv2
    except ImportError:
        import ffaccel

        return np.asarray(ffaccel.warp_affine(np.ascontiguousarray(source), m, (crop_size, crop_size),
                                              border="replicate", compat=warp_compat()))
    return cv2.warpAffine(source, m, (crop_size, crop_size), borderMode=cv2.BORDER_REPLICATE, flags=cv2.INTER_AREA)


class PipelineConfig:
    """Settings shared by every path.

    Args:
        source_crop: (crop, crop, 3) uint8 BGR aligned source face (see :func:`align_source`).
        mask_blur: FaceFusion's face_mask_blur (0..1), default 0.3 as FaceFusion's.
        mask_padding: FaceFusion's face_mask_padding (top, right, bottom, left) in percent.
        color_transfer: match the source crop's colour to the target crop.
    """

    def __init__(self, source_crop: np.ndarray, mask_blur: float = 0.3,
                 mask_padding: tuple[int, int, int, int] = (0, 0, 0, 0), color_transfer: bool = True) -> None:
        self.source_crop = np.ascontiguousarray(source_crop)
        self.crop_size = int(source_crop.shape[0])
        self.mask_blur = mask_blur
        self.mask_padding = mask_padding
        self.color_transfer = color_transfer
        c = self.crop_size
        #: rows and columns of the colour-statistics box (cheeks, nose, mouth)
        self.color_box = (slice(int(c * 0.35), int(c * 0.75)), slice(int(c * 0.3), int(c * 0.7)))
        rows, cols = self.color_box
        self.color_weight = np.ones((rows.stop - rows.start, cols.stop - cols.start), np.float32)
        self.source_box = np.ascontiguousarray(self.source_crop[self.color_box])
        #: the swapper's face region: a soft ellipse over the inner face, in crop pixels
        self.face_alpha = face_ellipse(c)


def face_ellipse(crop_size: int) -> np.ndarray:
    """(crop, crop) float32 0..1: a soft ellipse over the inner face at the alignment template.

    Centre (0.5, 0.58) and semi-axes (0.27, 0.33) of the crop; 1 inside 75 % of the
    radius, a smoothstep down to 0 at the ellipse.
    """
    c = crop_size
    y, x = np.mgrid[0:c, 0:c].astype(np.float64) + 0.5
    r = np.hypot((x / c - 0.5) / 0.27, (y / c - 0.58) / 0.33)
    t = np.clip((1.0 - r) / 0.25, 0.0, 1.0)
    return (t * t * (3.0 - 2.0 * t)).astype(np.float32)


Timings = dict[str, float]


class _Clock:
    """Per-step wall-clock times of one call, in ms; ``sync`` waits for the GPU first."""

    def __init__(self, sync: Callable[[], None] | None = None) -> None:
        self.sync = sync
        self.times: Timings = {}
        self._t = time.perf_counter()

    def lap(self, step: str) -> None:
        if self.sync is not None:
            self.sync()
        now = time.perf_counter()
        self.times[step] = self.times.get(step, 0.0) + (now - self._t) * 1e3
        self._t = now


# ---------------------------------------------------------------- FaceFusion-style baseline

_SRGB_TO_LINEAR = _colorspace.decode_table()  # (256,) float32 linear light of the uint8 codes


def _gain_tables_numpy(gains: np.ndarray) -> np.ndarray:
    """(3, 256) uint8: each code decoded to linear light, scaled by the channel's gain, re-encoded."""
    lin = np.clip(_SRGB_TO_LINEAR[None, :] * gains[:, None].astype(np.float32), 0.0, 1.0)
    return np.rint(_colorspace.linear_to_srgb(np, lin) * 255.0).astype(np.uint8)


def create_box_mask_facefusion(crop_size: int, blur: float, padding: tuple[int, int, int, int]) -> np.ndarray:
    """FaceFusion's create_box_mask steps with numpy and cv2 (rebuilt for every face, as it does)."""
    import cv2

    blur_amount = int(crop_size * 0.5 * blur)
    blur_area = max(blur_amount // 2, 1)
    mask = np.ones((crop_size, crop_size), np.float32)
    mask[:max(blur_area, int(crop_size * padding[0] / 100)), :] = 0
    mask[-max(blur_area, int(crop_size * padding[2] / 100)):, :] = 0
    mask[:, :max(blur_area, int(crop_size * padding[3] / 100))] = 0
    mask[:, -max(blur_area, int(crop_size * padding[1] / 100)):] = 0
    if blur_amount > 0:
        blurred: np.ndarray = cv2.GaussianBlur(mask, (0, 0), blur_amount * 0.25)
        return blurred
    return mask


def paste_back_facefusion(frame: np.ndarray, crop: np.ndarray, mask: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """FaceFusion's paste_back steps with cv2 and numpy: warp mask and crop back, float blend, astype."""
    import cv2

    inverse = cv2.invertAffineTransform(matrix)
    h, w = crop.shape[:2]
    corners = np.array([[0, 0], [w, 0], [w, h], [0, h]])
    pts = cv2.transform(corners.reshape(-1, 1, 2), inverse).reshape(-1, 2)
    x1, y1 = np.clip(np.floor(pts.min(axis=0)).astype(int), 0, [frame.shape[1], frame.shape[0]])
    x2, y2 = np.clip(np.ceil(pts.max(axis=0)).astype(int), 0, [frame.shape[1], frame.shape[0]])
    out = frame.copy()
    if x2 <= x1 or y2 <= y1:
        return out
    paste_matrix = inverse.copy()
    paste_matrix[0, 2] -= x1
    paste_matrix[1, 2] -= y1
    size = (int(x2 - x1), int(y2 - y1))
    inverse_mask = np.expand_dims(cv2.warpAffine(mask, paste_matrix, size).clip(0, 1), axis=-1)
    inverse_crop = cv2.warpAffine(crop, paste_matrix, size, borderMode=cv2.BORDER_REPLICATE)
    area = out[y1:y2, x1:x2]
    out[y1:y2, x1:x2] = (area * (1 - inverse_mask) + inverse_crop * inverse_mask).astype(out.dtype)
    return out


class FaceFusionPath:
    """The baseline: each step as FaceFusion 3.5 does it, numpy and cv2 on the CPU."""

    name = "facefusion"
    label = "FaceFusion-style (numpy + cv2)"

    def __init__(self, config: PipelineConfig) -> None:
        self.config = config

    def process(self, frame: np.ndarray, five: np.ndarray) -> tuple[np.ndarray, Timings]:
        """Swap the face of ``frame`` (not modified) at landmarks ``five``; return (result, ms per step)."""
        import cv2

        cfg = self.config
        c = cfg.crop_size
        clock = _Clock()
        matrix = estimate_matrix(five, c, use_cv2=True)
        clock.lap("align")
        crop = cv2.warpAffine(frame, matrix, (c, c), borderMode=cv2.BORDER_REPLICATE, flags=cv2.INTER_AREA)
        clock.lap("warp")
        swapped = cfg.source_crop.copy()
        if cfg.color_transfer:
            src_mean = _SRGB_TO_LINEAR[cfg.source_box].mean(axis=(0, 1), dtype=np.float64)
            ref_mean = _SRGB_TO_LINEAR[crop[cfg.color_box]].mean(axis=(0, 1), dtype=np.float64)
            gains = np.where(src_mean > 1e-6, ref_mean / np.maximum(src_mean, 1e-6), 1.0)
            tables = _gain_tables_numpy(gains)
            swapped = np.stack([tables[ch][swapped[..., ch]] for ch in range(3)], axis=-1)
        alpha = cfg.face_alpha[..., None]
        background = crop.astype(np.float32)
        swapped = np.rint(background + alpha * (swapped.astype(np.float32) - background)).astype(np.uint8)
        clock.lap("swap")
        mask = create_box_mask_facefusion(c, cfg.mask_blur, cfg.mask_padding)
        clock.lap("mask")
        out = paste_back_facefusion(frame, swapped, mask, matrix)
        clock.lap("paste")
        return out, clock.times


# ---------------------------------------------------------------- ffaccel


class FfaccelCpuPath:
    """ffaccel's ops on numpy arrays."""

    name = "ffaccel-cpu"
    label = "ffaccel, CPU"

    def __init__(self, config: PipelineConfig) -> None:
        self.config = config
        self.use_cv2 = have_cv2()  # alignment: FaceFusion's cv2 call, else the numpy least squares
        self.compat = warp_compat()
        self.paste_compat = paste_compat()

    def process(self, frame: np.ndarray, five: np.ndarray) -> tuple[np.ndarray, Timings]:
        """Swap the face of ``frame`` (not modified) at landmarks ``five``; return (result, ms per step)."""
        import ffaccel

        cfg = self.config
        c = cfg.crop_size
        clock = _Clock()
        matrix = estimate_matrix(five, c, self.use_cv2)
        clock.lap("align")
        crop = ffaccel.warp_affine(frame, matrix, (c, c), compat=self.compat)
        clock.lap("warp")
        swapped = cfg.source_crop
        if cfg.color_transfer:
            gains = ffaccel.estimate_color_gains(cfg.source_box, np.ascontiguousarray(crop[cfg.color_box]),
                                                 cfg.color_weight)
            swapped = ffaccel.apply_color_gain_linear(swapped, gains)
        swapped = ffaccel.composite(swapped, crop, cfg.face_alpha, band=None)
        clock.lap("swap")
        mask = ffaccel.box_mask(c, cfg.mask_blur, cfg.mask_padding)
        clock.lap("mask")
        out = ffaccel.paste_back(frame, swapped, mask, matrix, compat=self.paste_compat)
        clock.lap("paste")
        return out, clock.times


def warp_compat() -> str:
    """``compat`` for ffaccel.warp_affine: the installed OpenCV's bytes ("opencv4" or "opencv5.0",
    from :func:`ffaccel.opencv_compat.opencv_compat_mode`, which raises naming the version when
    no mode matches: the demo then warns and uses "opencv5.0"); "opencv5.0" when OpenCV is not installed (ffaccel reproduces it without OpenCV)."""
    try:
        import cv2
    except ImportError:
        return "opencv5.0"
    import warnings

    from ffaccel.opencv_compat import OpenCVVersionError, opencv_compat_mode

    try:
        return opencv_compat_mode(cv2)
    except OpenCVVersionError as exc:
        warnings.warn(f"{exc}; the demo uses compat 'opencv5.0' instead, so its agreement check will report "
                      "differences", RuntimeWarning, stacklevel=2)
        return "opencv5.0"


def paste_compat() -> str:
    """``compat`` for ffaccel.paste_back: FaceFusion's semantics on :func:`warp_compat`'s OpenCV generation."""
    return "facefusion-" + warp_compat()


class _TorchBackend:
    name = "torch"

    def __init__(self) -> None:
        import torch

        self.torch = torch
        self.device = torch.device("cuda", torch.cuda.current_device())

    def upload(self, a: np.ndarray) -> Any:
        # torch.from_numpy warns on a read-only array (frames read from a file are): copy those
        # on the host; the upload below copies to the device either way.
        a = np.ascontiguousarray(a)
        if not a.flags.writeable:
            a = a.copy()
        return self.torch.from_numpy(a).to(self.device, non_blocking=False)

    def download(self, a: Any) -> np.ndarray:
        return a.cpu().numpy()

    def empty_like(self, a: Any) -> Any:
        return self.torch.empty_like(a)

    def contiguous(self, a: Any) -> Any:
        return a.contiguous()

    def sync(self) -> None:
        self.torch.cuda.synchronize()


class _CupyBackend:
    name = "cupy"

    def __init__(self) -> None:
        import cupy

        self.cupy = cupy

    def upload(self, a: np.ndarray) -> Any:
        return self.cupy.asarray(np.ascontiguousarray(a))

    def download(self, a: Any) -> np.ndarray:
        return self.cupy.asnumpy(a)

    def empty_like(self, a: Any) -> Any:
        return self.cupy.empty_like(a)

    def contiguous(self, a: Any) -> Any:
        return self.cupy.ascontiguousarray(a)

    def sync(self) -> None:
        self.cupy.cuda.Device().synchronize()


def cuda_backend() -> tuple[Any | None, str]:
    """(backend, reason): a torch or cupy CUDA backend if ffaccel's CUDA kernels can run here.

    The backend is None when CUDA cannot be used; ``reason`` then says why in a few words.
    """
    import ffaccel

    s = ffaccel.status(frameworks=False)
    if not s.get("cuda_built"):
        return None, f"ffaccel was built without CUDA kernels ({s.get('cuda_reason') or 'no reason recorded'})"
    if not s.get("gpus"):
        return None, "no GPU is visible"
    errors = []
    for make in (_TorchBackend, _CupyBackend):
        try:
            backend = make()
            backend.sync()
            return backend, ""
        except Exception as exc:  # noqa: BLE001 - any failure means "not this framework"
            errors.append(f"{make.name}: {type(exc).__name__}")
    return None, "neither torch nor cupy can use the GPU (" + ", ".join(errors) + ")"


class FfaccelCudaPath:
    """ffaccel's ops on CUDA arrays (torch or cupy), timed with a device sync after each step.

    The frame is uploaded once and the result downloaded once (steps ``upload`` and
    ``download``); the source crop, colour weights and box mask live on the GPU.
    Syncing after every step makes the per-step times honest but costs a little: a real
    pipeline would not sync.
    """

    name = "ffaccel-cuda"

    def __init__(self, config: PipelineConfig, backend: Any) -> None:
        import ffaccel

        self.config = config
        self.backend = backend
        self.use_cv2 = have_cv2()
        self.compat = warp_compat()
        self.paste_compat = paste_compat()
        self.label = f"ffaccel, CUDA ({backend.name})"
        c = config.crop_size
        self.source_crop = backend.upload(config.source_crop)
        self.color_weight = backend.upload(config.color_weight)
        self.source_box = backend.upload(config.source_box)
        self.face_alpha = backend.upload(config.face_alpha)
        self.mask = backend.upload(ffaccel.box_mask(c, config.mask_blur, config.mask_padding))
        self.crop = backend.upload(np.zeros((c, c, 3), np.uint8))
        self.swapped = backend.empty_like(self.crop)

    def process(self, frame: np.ndarray, five: np.ndarray) -> tuple[np.ndarray, Timings]:
        """Swap the face of ``frame`` (not modified) at landmarks ``five``; return (result, ms per step)."""
        import ffaccel

        cfg = self.config
        c = cfg.crop_size
        b = self.backend
        clock = _Clock(b.sync)
        gpu_frame = b.upload(frame)
        clock.lap("upload")
        matrix = estimate_matrix(five, c, self.use_cv2)
        clock.lap("align")
        ffaccel.warp_affine(gpu_frame, matrix, (c, c), compat=self.compat, out=self.crop)
        clock.lap("warp")
        swapped = self.source_crop
        if cfg.color_transfer:
            gains = ffaccel.estimate_color_gains(self.source_box, b.contiguous(self.crop[cfg.color_box]),
                                                 self.color_weight)
            swapped = ffaccel.apply_color_gain_linear(self.source_crop, gains, out=self.swapped)
        swapped = ffaccel.composite(swapped, self.crop, self.face_alpha, band=None, out=self.swapped)
        clock.lap("swap")
        mask = self.mask
        clock.lap("mask")
        ffaccel.paste_back(gpu_frame, swapped, mask, matrix, compat=self.paste_compat, inplace=True)
        clock.lap("paste")
        out = b.download(gpu_frame)
        clock.lap("download")
        return out, clock.times
