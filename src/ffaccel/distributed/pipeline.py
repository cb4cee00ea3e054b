"""What the workers run: a :class:`Pipeline` (detect, then swap) and the stabiliser between the passes.

A pipeline is a picklable object sent to every worker; :meth:`Pipeline.load` runs once
per worker (an actor), where models are built. Pass 1 calls :meth:`Pipeline.detect` on
each segment; the driver gathers the whole video's track and calls
:func:`stabilise_track` on it; pass 2 calls :meth:`Pipeline.process` on each segment
with its slice of the stabilised track.

:class:`SwapPipeline` builds one from two user callables: a detector and a crop-level
swapper; ffaccel does the alignment, warp, box mask and paste-back around the swapper.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

__all__ = ["Pipeline", "SwapPipeline", "Detector", "Swapper", "StabiliserSettings", "stabilise_track"]


@dataclass(frozen=True)
class StabiliserSettings:
    """Settings of the offline stabiliser, for one whole video.

    The stabiliser is scale-free and estimates the detector's noise from the track itself,
    so there is nothing to tune but the shot cuts.

    Attributes:
        cuts: frame indices that start a new shot, ``[]`` for none, or None to let the
            stabiliser detect them from jumps of the track.
        enabled: False passes the raw track through.
    """

    cuts: Sequence[int] | None = None
    enabled: bool = True


def stabilise_track(landmarks: np.ndarray, settings: StabiliserSettings) -> np.ndarray:
    """The whole video's (T, K, 2) float64 track, stabilised offline (zero lag, both directions).

    This is the one place the distributed runner calls the stabiliser: it sees the whole
    track, never a segment, so segment boundaries leave no trace. It is
    :func:`ffaccel.stabilize_track` in offline mode, as in ``ffaccel demo`` and the FaceFusion
    adapter; frames with no face are NaN rows.

    Args:
        landmarks: (T, K, 2) pixels, NaN where no face was found.
        settings: :class:`StabiliserSettings`.

    Example:
        >>> import numpy as np
        >>> face = np.array([[38., 52], [74, 52], [56, 72], [42, 92], [70, 92]])  # 5 points, px
        >>> track = face + np.linspace(0, 30, 30)[:, None, None]                 # a slow pan
        >>> stabilise_track(track, StabiliserSettings(cuts=[])).shape
        (30, 5, 2)
    """
    import ffaccel

    track = np.asarray(landmarks, np.float64)
    if not settings.enabled or np.all(np.isnan(track)):
        return track.copy()
    cuts = None if settings.cuts is None else list(settings.cuts)
    return np.asarray(ffaccel.stabilize_track(track, mode="offline", cuts=cuts))


class Detector(Protocol):
    """``detector(frames, indices, meta) -> landmarks``.

    frames: (B, H, W, 3) uint8 BGR; indices: (B,) int64 frame numbers in the video;
    meta: the input video's metadata dict, plus ``"ffaccel_video"``: the video's path. Returns (B, K, 2) float pixels, a NaN row
    where no face is found. Each row must depend on its own frame only (segments are
    cut anywhere).
    """

    def __call__(self, frames: np.ndarray, indices: np.ndarray, meta: dict[str, Any]) -> np.ndarray: ...


class Swapper(Protocol):
    """``swapper(crops, indices) -> crops``: (B, c, c, 3) uint8 aligned face crops in, swapped crops out."""

    def __call__(self, crops: np.ndarray, indices: np.ndarray) -> np.ndarray: ...


class Pipeline:
    """Base class of what runs inside the workers; subclass it or use :class:`SwapPipeline`.

    Attributes:
        batch_size: frames per call of :meth:`detect` and :meth:`process`.
        stabiliser: :class:`StabiliserSettings` applied between the passes.
        landmarks: K, the number of points per face the detector returns.
    """

    batch_size: int = 8
    stabiliser: StabiliserSettings = StabiliserSettings()
    landmarks: int = 5

    def load(self) -> None:
        """Build models; called once in each worker before its first segment."""

    def stabilise(self, track: np.ndarray, height: int) -> np.ndarray:
        """The whole video's pass-1 track (T, K, 2) -> what pass 2 gets, sliced by frame (leading axis T).

        Default: :func:`stabilise_track` with :attr:`stabiliser`. Runs on the driver, once per video.
        """
        return stabilise_track(track, self.stabiliser)

    def detect(self, frames: np.ndarray, indices: np.ndarray, meta: dict[str, Any]) -> np.ndarray:
        """(B, K, 2) float64 landmarks of ``frames`` (B, H, W, 3) uint8; NaN rows for no face."""
        raise NotImplementedError

    def process(self, frames: np.ndarray, landmarks: np.ndarray, indices: np.ndarray,
                meta: dict[str, Any]) -> np.ndarray:
        """(B, H, W, 3) uint8 output frames for ``frames`` and their stabilised ``landmarks`` (B, K, 2)."""
        raise NotImplementedError


class SwapPipeline(Pipeline):
    """A pipeline from a detector and a crop swapper; ffaccel aligns, warps, masks and pastes.

    Per frame with a face: the (2, 3) frame-to-crop similarity from the 5 stabilised
    points to FaceFusion's arcface_128_v2 template (``ffaccel.demo.pipeline.estimate_matrix``),
    ``ffaccel.warp_affine`` to a ``crop_size`` crop, the swapper on the batch of crops,
    ``ffaccel.box_mask`` (built once) and ``ffaccel.paste_back`` in FaceFusion's
    semantics. Frames without a face (NaN landmarks) are passed through unchanged.

    Args:
        make_detector: zero-argument callable run once per worker, returning a :class:`Detector`.
        make_swapper: zero-argument callable run once per worker, returning a :class:`Swapper`.
        crop_size: side of the aligned crop in pixels.
        mask_blur, mask_padding: FaceFusion's face_mask_blur (0..1) and padding (percent).
        batch_size: frames per detector/swapper call.
        stabiliser: :class:`StabiliserSettings`.
        device: ``"cpu"``: numpy arrays throughout. ``"cuda"``: each frame is uploaded once
            (torch, else cupy: ``ffaccel.demo.pipeline.cuda_backend``), warped, pasted and
            downloaded on the GPU, and the swapper gets and returns (B, c, c, 3) uint8 CUDA
            arrays of that framework. ``"auto"``: ``"cuda"`` when usable, else ``"cpu"``.
            Inside a Ray actor with ``num_gpus`` the visible GPU is the actor's own.

    The factories (not the models) are pickled to the workers, so they must be
    importable functions or picklable objects.
    """

    def __init__(self, make_detector: Callable[[], Detector], make_swapper: Callable[[], Swapper], *,
                 crop_size: int = 512, mask_blur: float = 0.3, mask_padding: tuple[int, int, int, int] = (0, 0, 0, 0),
                 batch_size: int = 8, stabiliser: StabiliserSettings | None = None, device: str = "cpu") -> None:
        if not callable(make_detector) or not callable(make_swapper):
            raise TypeError("make_detector, make_swapper: expected zero-argument callables")
        if int(crop_size) < 8:
            raise ValueError(f"crop_size: expected >= 8, got {crop_size!r}")
        if int(batch_size) < 1:
            raise ValueError(f"batch_size: expected >= 1, got {batch_size!r}")
        if device not in ("cpu", "cuda", "auto"):
            raise ValueError(f"device: expected 'cpu', 'cuda' or 'auto', got {device!r}")
        self.make_detector, self.make_swapper = make_detector, make_swapper
        self.device = device
        self.crop_size = int(crop_size)
        self.mask_blur, self.mask_padding = float(mask_blur), tuple(mask_padding)
        self.batch_size = int(batch_size)
        self.stabiliser = stabiliser or StabiliserSettings()
        self._detector: Detector | None = None
        self._swapper: Swapper | None = None
        self._mask: np.ndarray | None = None

    def __getstate__(self) -> dict[str, Any]:  # models never travel: each worker loads its own
        state = self.__dict__.copy()
        state.update(_detector=None, _swapper=None, _mask=None, _backend=None, _gpu_mask=None)
        return state

    def load(self) -> None:
        import ffaccel
        from ffaccel.demo.pipeline import have_cv2, paste_compat, warp_compat

        if self._detector is None:
            self._detector = self.make_detector()
            self._swapper = self.make_swapper()
        self._mask = np.asarray(ffaccel.box_mask(self.crop_size, self.mask_blur, self.mask_padding))
        self._backend = self._gpu_mask = None
        if self.device != "cpu":
            from ffaccel.demo.pipeline import cuda_backend

            backend, reason = cuda_backend()
            if backend is None and self.device == "cuda":
                raise RuntimeError(f"device='cuda': {reason}")
            if backend is not None:
                self._backend, self._gpu_mask = backend, backend.upload(self._mask)
        self._use_cv2 = have_cv2()
        self._warp_compat, self._paste_compat = warp_compat(), paste_compat()

    def detect(self, frames: np.ndarray, indices: np.ndarray, meta: dict[str, Any]) -> np.ndarray:
        if self._detector is None:
            self.load()
        assert self._detector is not None
        return np.asarray(self._detector(frames, indices, meta), np.float64)

    def process(self, frames: np.ndarray, landmarks: np.ndarray, indices: np.ndarray,
                meta: dict[str, Any]) -> np.ndarray:
        import ffaccel
        from ffaccel.demo.pipeline import estimate_matrix

        if self._swapper is None or self._mask is None:
            self.load()
        assert self._swapper is not None and self._mask is not None
        c = self.crop_size
        out = frames.copy()
        have = np.flatnonzero(np.all(np.isfinite(landmarks.reshape(len(landmarks), -1)), axis=1))
        if have.size == 0:
            return out
        matrices = [estimate_matrix(landmarks[i], c, self._use_cv2) for i in have]
        if getattr(self, "_backend", None) is not None:
            return self._process_cuda(out, have, matrices, indices)
        crops = np.stack([np.asarray(ffaccel.warp_affine(frames[i], m, (c, c), compat=self._warp_compat))
                          for i, m in zip(have, matrices, strict=True)])
        swapped = np.asarray(self._swapper(crops, indices[have]))
        if swapped.shape != crops.shape or swapped.dtype != np.uint8:
            raise ValueError(f"swapper: expected {crops.shape} uint8 crops back, got {swapped.shape} {swapped.dtype}")
        for j, (i, m) in enumerate(zip(have, matrices, strict=True)):
            ffaccel.paste_back(out[i], np.ascontiguousarray(swapped[j]), self._mask, m, compat=self._paste_compat,
                               inplace=True)
        return out

    def _process_cuda(self, out: np.ndarray, have: np.ndarray, matrices: list[np.ndarray],
                      indices: np.ndarray) -> np.ndarray:
        """The GPU branch of :meth:`process`: upload once, warp, swap, paste in place, download once."""
        import ffaccel

        b, c = self._backend, self.crop_size
        gpu_frames = [b.upload(out[i]) for i in have]
        crops = [ffaccel.warp_affine(g, m, (c, c), compat=self._warp_compat) for g, m in zip(gpu_frames, matrices,
                                                                                             strict=True)]
        stack = b.torch.stack if hasattr(b, "torch") else b.cupy.stack
        swapped = self._swapper(stack(crops), indices[have])
        if tuple(swapped.shape) != (len(have), c, c, 3):
            raise ValueError(f"swapper: expected ({len(have)}, {c}, {c}, 3) uint8 crops back, got {tuple(swapped.shape)}")
        for j, (i, g, m) in enumerate(zip(have, gpu_frames, matrices, strict=True)):
            ffaccel.paste_back(g, b.contiguous(swapped[j]), self._gpu_mask, m, compat=self._paste_compat, inplace=True)
            out[i] = b.download(g)
        return out
