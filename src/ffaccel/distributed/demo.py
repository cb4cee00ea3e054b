"""The demo pipeline for the distributed runner: ``ffaccel demo``'s clip and stand-in swap.

- :func:`write_demo_clips` renders demo clips (:class:`ffaccel.demo.clip.SyntheticClip`)
  into ``.ffr`` files. The demo has no neural detector: its "detections" are the clip's
  simulated detector output (ground truth plus the noise model's jitter and outliers),
  stored in each file's metadata under ``"demo_detections"``.
- :class:`DemoPipeline`: that stored track as the detector, the demo's stand-in swap
  (source face colour-matched in linear light and composited into the crop, as
  :class:`ffaccel.demo.pipeline.FfaccelCpuPath` does), ffaccel's warp, mask and paste,
  and the demo's stabiliser settings. Its frames are byte for byte those of
  ``FfaccelCpuPath.process`` on the stabilised track.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ffaccel.distributed.container import FfrWriter
from ffaccel.distributed.pipeline import StabiliserSettings, SwapPipeline

__all__ = ["DemoPipeline", "write_demo_clips", "DEMO_META_KEY"]

#: Metadata key of the simulated detections in a demo clip's ``.ffr`` header.
DEMO_META_KEY = "demo_detections"
#: The demo's smoother setting (``ffaccel.demo.runner.STABILISER_ACCEL_PX``), px/frame^2 at 1080p.


def write_demo_clips(folder: str | Path, count: int = 3, frames: int = 24, width: int = 320, height: int = 180,
                     seed: int = 7, codec: str = "zlib") -> list[Path]:
    """Render ``count`` demo clips (seeds ``seed``, ``seed + 1``, ...) into ``folder/clip_<i>.ffr``.

    Args:
        folder: created if missing.
        count: number of clips.
        frames, width, height: clip length and frame size in pixels.
        seed: seed of the first clip (shake and detector noise).
        codec: ``.ffr`` codec, ``"zlib"`` or ``"raw"``.

    Returns:
        The file paths, in seed order.
    """
    from ffaccel.demo.clip import ClipSpec, SyntheticClip

    if count < 1 or frames < 2:
        raise ValueError(f"count, frames: expected >= 1 and >= 2, got {count}, {frames}")
    out_dir = Path(folder)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for k in range(count):
        clip = SyntheticClip(ClipSpec(frames=frames, width=width, height=height, seed=seed + k))
        meta = {DEMO_META_KEY: clip.noisy5.tolist(), "demo_seed": seed + k}
        path = out_dir / f"clip_{k}.ffr"
        with FfrWriter(path, width, height, clip.spec.fps, codec=codec, meta=meta) as w:
            for i in range(frames):
                w.write(clip.frame(i))
        paths.append(path)
    return paths


def _stored_detections(frames: np.ndarray, indices: np.ndarray, meta: dict[str, Any]) -> np.ndarray:
    """The demo's detector: the clip's simulated detections of frames ``indices``, (B, 5, 2)."""
    if DEMO_META_KEY not in meta:
        raise ValueError(f"meta: expected a demo clip with {DEMO_META_KEY!r} (write_demo_clips), got keys "
                         f"{sorted(meta)}")
    stored = meta[DEMO_META_KEY]
    hit = _TRACKS.get(id(stored))
    if hit is None or hit[0] is not stored:  # convert each video's list once, not once per batch
        if len(_TRACKS) >= 8:
            _TRACKS.clear()
        hit = _TRACKS[id(stored)] = (stored, np.asarray(stored, np.float64))
    return hit[1][np.asarray(indices)]


#: id(stored list) -> (the list, its (T, 5, 2) float64 array); the list is held so its id stays its own
_TRACKS: dict[int, tuple[Any, np.ndarray]] = {}


def _make_detector() -> Any:
    return _stored_detections


class StandInSwap:
    """The demo's stand-in swapper on (B, c, c, 3) crops: colour gains in linear light, then composite.

    The same calls, in the same order, as :meth:`ffaccel.demo.pipeline.FfaccelCpuPath.process`
    between its warp and its mask.
    """

    def __init__(self, crop_size: int, color_transfer: bool = True) -> None:
        from ffaccel.demo.clip import SOURCE_FIVE, load_faces
        from ffaccel.demo.pipeline import PipelineConfig, align_source

        _, source = load_faces()
        self.config = PipelineConfig(align_source(source, np.array(SOURCE_FIVE), crop_size),
                                     color_transfer=color_transfer)

    def __call__(self, crops: Any, indices: np.ndarray) -> Any:
        import ffaccel

        cfg = self.config
        if not isinstance(crops, np.ndarray):
            return self._cuda(crops)
        out = np.empty_like(crops)
        for j, crop in enumerate(crops):
            swapped = cfg.source_crop
            if cfg.color_transfer:
                gains = ffaccel.estimate_color_gains(cfg.source_box, np.ascontiguousarray(crop[cfg.color_box]),
                                                     cfg.color_weight)
                swapped = ffaccel.apply_color_gain_linear(swapped, gains)
            out[j] = ffaccel.composite(swapped, np.ascontiguousarray(crop), cfg.face_alpha, band=None)
        return out

    def _cuda(self, crops: Any) -> Any:
        """The same on torch or cupy CUDA crops, as :class:`ffaccel.demo.pipeline.FfaccelCudaPath` does."""
        import ffaccel

        cfg = self.config
        torch_like = type(crops).__module__.startswith("torch")
        if not hasattr(self, "_dev"):
            if torch_like:
                import torch

                up = (lambda a: torch.from_numpy(np.ascontiguousarray(a)).to(crops.device))  # noqa: E731
            else:
                import cupy

                up = (lambda a: cupy.asarray(np.ascontiguousarray(a)))  # noqa: E731
            self._dev = {k: up(getattr(cfg, k)) for k in ("source_crop", "source_box", "color_weight", "face_alpha")}
        d = self._dev
        out = crops.clone() if torch_like else crops.copy()
        for j in range(crops.shape[0]):
            crop = crops[j].contiguous() if torch_like else crops[j].copy()
            swapped = d["source_crop"]
            if cfg.color_transfer:
                box = crop[cfg.color_box]
                box = box.contiguous() if torch_like else box.copy()
                gains = ffaccel.estimate_color_gains(d["source_box"], box, d["color_weight"])
                swapped = ffaccel.apply_color_gain_linear(d["source_crop"], gains)
            out[j] = ffaccel.composite(swapped, crop, d["face_alpha"], band=None)
        return out


class DemoPipeline(SwapPipeline):
    """The demo pipeline on clips from :func:`write_demo_clips`.

    Args:
        crop_size: face crop side in pixels (the demo's default is 512; small clips use less).
        color_transfer: colour-match the stand-in to the target crop.
        batch_size: frames per call.
        stabilise: run the offline stabiliser (as the demo does).
        cuts: shot cuts for the stabiliser (default none, as the demo; None detects them).
        device: ``"cpu"``, ``"cuda"`` or ``"auto"`` (see :class:`SwapPipeline`).

    Example:
        >>> p = DemoPipeline(crop_size=128)
        >>> p.stabiliser.cuts
        []
    """

    def __init__(self, crop_size: int = 512, color_transfer: bool = True, batch_size: int = 8,
                 stabilise: bool = True, cuts: Sequence[int] | None = (), device: str = "cpu") -> None:
        super().__init__(_make_detector, functools.partial(StandInSwap, int(crop_size), bool(color_transfer)),
                         crop_size=crop_size, batch_size=batch_size, device=device,
                         stabiliser=StabiliserSettings(None if cuts is None else list(cuts), stabilise))
