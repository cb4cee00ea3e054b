"""FaceFusion recipe: FaceFusion's own processors inside the Ray actors, with ffaccel's adapter.

Each actor imports FaceFusion from a checkout (``facefusion_src``, default the
``FFACCEL_FACEFUSION_SRC`` environment variable), sets FaceFusion's state from its own
command-line parser (``headless-run`` arguments: sources, processors and any
``facefusion_args``), runs FaceFusion's pre-checks (which load, or download, its models)
and installs the adapter (:func:`ffaccel.integrations.facefusion.install`), so FaceFusion's
warp, paste-back and box mask run on ffaccel.

- Pass 1: FaceFusion's ``face_selector.select_faces`` on each frame (the faces its
  processors would swap, under its face selector settings); up to ``max_faces`` faces'
  ``5/68`` landmarks per frame.
- Driver: faces are linked into tracks over the whole video (nearest landmarks to the
  previous frame's, within ``match`` eye distances) and each track is stabilised with
  :func:`~ffaccel.distributed.pipeline.stabilise_track`.
- Pass 2: FaceFusion's processors (``process_frame``) on each frame; the adapter replaces
  each face's landmarks at the warp by its stabilised track value (a
  :class:`~ffaccel.integrations.facefusion.StabilizePlan` holding the segment's frames).

Limits (docs/distributed.md): FaceFusion versions 3.5-3.8; landmark stabilisation only
(the adapter's colour and mask stabilisation need the swap run in pass 1 and are off);
processors get the current frame alone as their target frames (no multi-frame window),
no audio (lip-sync processors see silence); ``face_selector_mode="reference"`` takes its
reference from frame ``reference_frame_number`` of each video; models must already be in
FaceFusion's model folder on every node, or its pre-check downloads them; FaceFusion needs
``ffmpeg`` on the PATH and its checkout as the working directory, so :meth:`FaceFusionPipeline.load`
changes the process's working directory to ``facefusion_src`` (job paths are made absolute
before, by the runner).
"""

from __future__ import annotations

import inspect
import os
import sys
import tempfile
from collections.abc import Sequence
from typing import Any

import numpy as np

from ffaccel.distributed.pipeline import Pipeline, StabiliserSettings, stabilise_track

__all__ = ["FaceFusionPipeline", "link_tracks"]


def link_tracks(track: np.ndarray, faces: int, match: float = 0.35) -> np.ndarray:
    """Reorder the face slots of a (T, faces * 5, 2) track so that each slot follows one face.

    Frame by frame, each face is given the slot whose last seen landmarks (within the
    past 2 frames) are nearest, if within ``match`` times that face's eye distance
    (largest point distance); other faces take a free slot. NaN rows are empty slots.

    Example:
        >>> import numpy as np
        >>> a, b = np.zeros((5, 2)), np.full((5, 2), 100.0)
        >>> a[1, 0] = b[1, 0] = 30.0 + b[0, 0]
        >>> t = np.stack([np.concatenate([a, b]), np.concatenate([b, a])])
        >>> bool(np.array_equal(link_tracks(t, 2)[1], t[0]))
        True
    """
    t_len = track.shape[0]
    slots = np.asarray(track, np.float64).reshape(t_len, faces, 5, 2)
    out = np.full_like(slots, np.nan)
    last: list[tuple[int, np.ndarray] | None] = [None] * faces
    for t in range(t_len):
        present = [slots[t, k] for k in range(faces) if np.all(np.isfinite(slots[t, k]))]
        taken: set[int] = set()
        for lm in present:
            eye = max(float(np.hypot(*(lm[1] - lm[0]))), 1.0)
            best, best_d = None, np.inf
            for s, seen in enumerate(last):
                if s in taken or seen is None or t - seen[0] > 2:
                    continue
                d = float(np.abs(seen[1] - lm).max()) / eye
                if d < best_d:
                    best, best_d = s, d
            if best is None or best_d > match:
                free = [s for s in range(faces) if s not in taken and (last[s] is None or t - last[s][0] > 2)]
                free = free or [s for s in range(faces) if s not in taken]
                best = free[0]
            taken.add(best)
            out[t, best] = lm
            last[best] = (t, lm)
    return out.reshape(track.shape)


class FaceFusionPipeline(Pipeline):
    """FaceFusion's processors on the actors (see the module docstring for what runs where).

    Args:
        source_paths: the source face image(s), as FaceFusion's ``--source-paths``.
        processors: FaceFusion processor names, as ``--processors``.
        facefusion_args: more ``headless-run`` arguments (e.g. ``["--face-swapper-model",
            "inswapper_128", "--execution-providers", "cuda"]``).
        facefusion_src: FaceFusion checkout (the folder holding ``facefusion/``); default
            ``$FFACCEL_FACEFUSION_SRC``; None with no variable: ``facefusion`` must import.
        max_faces: faces tracked per frame.
        mode: the adapter's mode, ``"exact"`` (FaceFusion's bytes) or ``"fast"``.
        stabiliser: :class:`StabiliserSettings` for each face track.
        match: face linking distance, in eye distances.
    """

    batch_size = 1

    def __init__(self, source_paths: Sequence[str], processors: Sequence[str] = ("face_swapper",),
                 facefusion_args: Sequence[str] = (), facefusion_src: str | None = None, max_faces: int = 1,
                 mode: str = "exact", stabiliser: StabiliserSettings | None = None, match: float = 0.35) -> None:
        if isinstance(source_paths, str) or not source_paths:
            raise ValueError(f"source_paths: expected a non-empty list of image paths, got {source_paths!r}")
        if int(max_faces) < 1:
            raise ValueError(f"max_faces: expected >= 1, got {max_faces!r}")
        self.source_paths = [os.path.abspath(os.fspath(p)) for p in source_paths]
        self.processors = list(processors)
        self.facefusion_args = list(facefusion_args)
        self.facefusion_src = facefusion_src or os.environ.get("FFACCEL_FACEFUSION_SRC")
        self.max_faces = int(max_faces)
        self.landmarks = 5 * self.max_faces
        self.mode = mode
        self.stabiliser = stabiliser or StabiliserSettings()
        self.match = float(match)
        self._ff: dict[str, Any] | None = None

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_ff"] = None
        return state

    def load(self) -> None:
        if self._ff is not None:
            return
        import shutil

        if shutil.which("ffmpeg") is None:  # else FaceFusion's own argument parser fails on a None path
            raise RuntimeError("FaceFusionPipeline: no ffmpeg on the PATH; FaceFusion asks ffmpeg for its encoders "
                               "when it builds its argument parser")
        if self.facefusion_src:
            if self.facefusion_src not in sys.path:
                sys.path.insert(0, self.facefusion_src)
            os.chdir(self.facefusion_src)  # FaceFusion finds its processors and models relative to its root
        import importlib

        import ffaccel.integrations.facefusion as ffa

        core = importlib.import_module("facefusion.core")
        state_manager = importlib.import_module("facefusion.state_manager")
        apply_args = importlib.import_module("facefusion.args").apply_args
        create_program = importlib.import_module("facefusion.program").create_program
        work = tempfile.mkdtemp(prefix="ffaccel-ff-")
        placeholder = os.path.join(work, "target.png")
        self._write_png(placeholder, np.zeros((8, 8, 3), np.uint8))
        argv = ["headless-run", "--source-paths", *self.source_paths, "--target-path", placeholder,
                "--output-path", os.path.join(work, "output.png"), "--processors", *self.processors,
                *self.facefusion_args]
        args = vars(create_program().parse_args(argv))
        apply_args(args, state_manager.init_item)
        if not (core.common_pre_check() and core.processors_pre_check()):
            raise RuntimeError("FaceFusion's pre-check failed (models missing and not downloadable?)")
        modules = importlib.import_module("facefusion.processors.core").get_processors_modules(self.processors)
        plan = ffa.StabilizePlan({})
        ffa.install(self.mode, stabilize=ffa.StabilizeOptions(plan=plan, color=False, mask=False, match=self.match))
        vision = importlib.import_module("facefusion.vision")
        audio = importlib.import_module("facefusion.audio")
        selector = importlib.import_module("facefusion.face_selector")
        self._ff = {"state": state_manager, "modules": modules, "plan": plan, "ffa": ffa, "work": work,
                    "sources": vision.read_static_images(self.source_paths), "vision": vision,
                    "silence": audio.create_empty_audio_frame(), "select": selector.select_faces,
                    "select_new": len(inspect.signature(selector.select_faces).parameters) >= 3,
                    "reference": {}}

    @staticmethod
    def _write_png(path: str, image: np.ndarray) -> None:
        from ffaccel.demo.runner import write_png

        write_png(path, image)

    def _reference(self, meta: dict[str, Any]) -> np.ndarray:
        """Frame ``reference_frame_number`` of this video (FaceFusion's reference face frame)."""
        from ffaccel.distributed.runner import open_video

        assert self._ff is not None
        path = meta["ffaccel_video"]
        cache = self._ff["reference"]
        if path not in cache:
            reader = open_video(path)
            n = int(self._ff["state"].get_item("reference_frame_number") or 0)
            cache.clear()
            k = min(max(n, 0), reader.frames - 1)
            if hasattr(reader, "read"):
                cache[path] = reader.read(k)
            else:  # a video file: decode up to frame k, keeping one batch at a time
                for batch in reader.iter_range(0, k + 1, 16):
                    cache[path] = batch[-1]
        return cache[path]

    def _faces(self, frame: np.ndarray, meta: dict[str, Any]) -> list[Any]:
        ff = self._ff
        assert ff is not None
        ref = self._reference(meta)
        if ff["select_new"]:
            return list(ff["select"](ref, ff["sources"], [frame]))
        return list(ff["select"](ref, frame))

    def detect(self, frames: np.ndarray, indices: np.ndarray, meta: dict[str, Any]) -> np.ndarray:
        self.load()
        out = np.full((len(frames), self.max_faces * 5, 2), np.nan)
        for i, frame in enumerate(frames):
            for k, face in enumerate(self._faces(frame, meta)[: self.max_faces]):
                out[i, 5 * k:5 * k + 5] = np.asarray(face.landmark_set.get("5/68"), np.float64).reshape(5, 2)
        return out

    def stabilise(self, track: np.ndarray, height: int) -> np.ndarray:
        """(T, 2, faces * 5, 2): the linked raw track and its stabilised values, per face slot."""
        linked = link_tracks(track, self.max_faces, self.match)
        smooth = np.full_like(linked, np.nan)
        for k in range(self.max_faces):
            sl = slice(5 * k, 5 * k + 5)
            if np.any(np.isfinite(linked[:, sl])):
                smooth[:, sl] = stabilise_track(linked[:, sl], self.stabiliser)
        return np.stack([linked, smooth], axis=1)

    def process(self, frames: np.ndarray, landmarks: np.ndarray, indices: np.ndarray,
                meta: dict[str, Any]) -> np.ndarray:
        self.load()
        ff = self._ff
        assert ff is not None
        ref = self._reference(meta)
        out = np.empty_like(frames)
        for i, (frame, idx) in enumerate(zip(frames, indices, strict=True)):
            rows = []
            for k in range(self.max_faces):
                raw, smooth = landmarks[i, 0, 5 * k:5 * k + 5], landmarks[i, 1, 5 * k:5 * k + 5]
                if np.all(np.isfinite(raw)) and np.all(np.isfinite(smooth)):
                    rows.append({"raw": raw, "smooth": smooth, "track": k, "gains": {}, "prev_mask": {}})
            ff["plan"].rows.clear()
            ff["plan"].rows[int(idx)] = rows
            temp = frame.copy()
            mask = ff["vision"].extract_vision_mask(temp)
            with ff["ffa"].frame_scope(int(idx)):
                for module in ff["modules"]:
                    temp, mask = module.process_frame({
                        "reference_vision_frame": ref, "source_vision_frames": ff["sources"],
                        "source_audio_frame": ff["silence"], "source_voice_frame": ff["silence"],
                        "target_vision_frame": frame, "target_vision_frames": [frame],
                        "temp_vision_frame": temp[:, :, :3], "temp_vision_mask": mask})
            out[i] = np.asarray(temp)[:, :, :3]
        return out
