"""Many videos and long videos on a Ray cluster, with the same bytes as one process.

Install with ``pip install "ffaccel[ray]"``. See docs/distributed.md.

- :func:`run_jobs`: segments each video at keyframes; pass 1 runs the pipeline's
  detector on every segment in parallel (Ray actors); each video's whole track is
  stabilised offline on the driver (:func:`stabilise_track`); pass 2 swaps, warps,
  masks and pastes every segment on the actors and writes it losslessly; the segments
  are joined into the output, written atomically.
- :func:`run_local`: the same job in one process (the byte-for-byte reference).
- Pipelines: :class:`SwapPipeline` (your detector and crop swapper, ffaccel's warp, mask
  and paste), :class:`DemoPipeline` (the demo's clip and stand-in swap) and
  :class:`FaceFusionPipeline` (FaceFusion's processors with ffaccel's adapter).
- :mod:`ffaccel.distributed.container`: ``.ffr``, the lossless numpy-only video container.
- :class:`ActorStartError`, :class:`StallError`: what :func:`run_jobs` raises instead of waiting
  for ever (actors that never start or restart for ever; no progress at all).

Only :func:`run_jobs` needs Ray; everything else runs without it.
"""

from __future__ import annotations

from ffaccel.distributed.container import (
    CorruptVideoError,
    FfrReader,
    FfrWriter,
    MissingVideoError,
    VideoReadError,
    join_ffr,
    read_ffr,
    write_ffr,
)
from ffaccel.distributed.demo import DemoPipeline, write_demo_clips
from ffaccel.distributed.facefusion import FaceFusionPipeline
from ffaccel.distributed.pipeline import Pipeline, StabiliserSettings, SwapPipeline, stabilise_track
from ffaccel.distributed.runner import Job, JobResult, open_video, plan_segments, run_jobs, run_local
from ffaccel.distributed.watch import ActorStartError, StallError

__all__ = [
    "ActorStartError",
    "CorruptVideoError",
    "DemoPipeline",
    "FaceFusionPipeline",
    "FfrReader",
    "FfrWriter",
    "Job",
    "JobResult",
    "MissingVideoError",
    "Pipeline",
    "StabiliserSettings",
    "StallError",
    "SwapPipeline",
    "VideoReadError",
    "join_ffr",
    "open_video",
    "plan_segments",
    "read_ffr",
    "run_jobs",
    "run_local",
    "stabilise_track",
    "write_demo_clips",
    "write_ffr",
]
