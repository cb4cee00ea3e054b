"""ffaccel inside FaceFusion 3.5-3.8, with no edits to FaceFusion.

Two lines, before FaceFusion processes anything::

    import ffaccel.integrations.facefusion as ffa
    ffa.install()

or, from a FaceFusion checkout, for any of FaceFusion's commands::

    python -m ffaccel.integrations.facefusion run --source a.jpg --target b.mp4 --output c.mp4

:func:`install` replaces ``facefusion.face_helper.warp_face_by_face_landmark_5`` and
``paste_back`` and ``facefusion.face_masker.create_box_mask``, in the defining modules
and in every ``facefusion`` module that imported them by name, now and when imported
later. With ``raw_temp_png=True`` it also has FaceFusion write its PNG temp frames
uncompressed (ffmpeg_builder.set_output, vision.write_image; same pixels). :func:`uninstall`
puts the original function objects back. See docs/facefusion.md for modes, stabilisation
and measured speed.
"""

from __future__ import annotations

import inspect
import logging
import sys
import threading
import warnings
from collections.abc import Callable, Sequence
from typing import Any

from ffaccel.integrations.facefusion_backend import MODES, Backend, load_ffaccel
from ffaccel.integrations.facefusion_io import make_set_output, make_write_image
from ffaccel.integrations.facefusion_patch import Patcher, Target
from ffaccel.integrations.facefusion_stabilize import (
    Recorder,
    StabilizeOptions,
    StabilizePlan,
    _remember_track,
    _track_of,
    current_frame,
    frame_scope,
)

__all__ = [
    "Recorder",
    "StabilizeOptions",
    "StabilizePlan",
    "current_frame",
    "frame_scope",
    "install",
    "installed_options",
    "is_installed",
    "main",
    "uninstall",
]

_log = logging.getLogger("ffaccel.integrations.facefusion")
_lock = threading.RLock()
_state: dict[str, Any] = {}
_warned_load = False

#: FaceFusion's per-frame functions that take ``frame_number`` (3.8: workflows.core; 3.5-3.7:
#: workflows.image_to_video). With stabilisation on, calls run inside :func:`frame_scope`.
FRAME_FUNCTIONS = (
    ("facefusion.workflows.core", "process_temp_frame"),
    ("facefusion.workflows.image_to_video", "process_temp_frame"),
)


def _is_processor(module_name: str) -> bool:
    return module_name.startswith("facefusion.processors.")


def install(mode: str = "exact", stabilize: bool | StabilizeOptions = False, device: Any = None,
            raw_temp_png: bool = False) -> bool:
    """Route FaceFusion's warp, paste and box-mask helpers through ffaccel.

    Args:
        mode: ``"exact"`` (default): every replaced function returns the same bytes as
            stock FaceFusion under the installed OpenCV (4.x or 5.x, read from
            ``cv2.__version__`` now). ``"fast"``: ffaccel's own rounding (half to even,
            unrounded warp samples) and, with ``device``, the GPU.
        stabilize: ``False`` (default), ``True`` (record pass: a fresh :class:`Recorder`,
            output unchanged), or a :class:`StabilizeOptions` with a ``plan`` to apply
            and/or a ``record`` to fill. Only the processors' calls take part.
        device: ``None`` (CPU), ``"cuda"``, ``"cuda:N"`` or a CUDA index, for
            ``mode="fast"`` only: numpy arrays are uploaded, processed and downloaded.
            If the GPU path is unavailable, ffaccel's CPU path is used (one warning).
        raw_temp_png: ``False`` (default): FaceFusion's PNG temp frames as stock writes
            them. ``True``: temp frames (``--temp-frame-format png``) are written without
            deflate compression and row filter, by ffmpeg's extraction and by the frame
            loop; decoded pixels, and so the output video, are unchanged, the files are
            about 2.7x larger and much cheaper to write and read (docs/facefusion.md).

    Returns:
        True when the patches are in place; False when ffaccel could not be loaded (one
        warning, FaceFusion runs stock).

    Calling it again with the same arguments does nothing; with other arguments it
    replaces the installation (bad arguments leave the current one in place).
    Thread-safe.

    Raises:
        ValueError, TypeError: bad ``mode``, ``device``, ``stabilize`` or ``raw_temp_png``.
    """
    global _warned_load
    if mode not in MODES:
        raise ValueError(f"mode: expected one of {MODES}, got {mode!r}")
    if not isinstance(raw_temp_png, bool):
        raise TypeError(f"raw_temp_png: expected a bool, got {type(raw_temp_png).__name__}")
    options = _options(stabilize)
    with _lock:
        key = (mode, repr(device), stabilize if isinstance(stabilize, bool) else id(stabilize), raw_temp_png)
        if _state.get("key") == key:
            return True
        try:
            import cv2

            ops = load_ffaccel()
            backend = Backend(ops, cv2, mode, device)
        except (ValueError, TypeError):
            raise  # bad arguments: the current installation (if any) stays as it is
        except Exception as exc:
            if not _warned_load:
                _warned_load = True
                warnings.warn(f"ffaccel could not be loaded ({type(exc).__name__}: {exc}); FaceFusion runs "
                              "unchanged (stock helpers)", RuntimeWarning, stacklevel=2)
            uninstall()
            return False
        plan = options.resolved_plan() if options else None
        if _state:
            uninstall()
        targets = _targets(backend, options, plan, raw_temp_png)
        patcher = Patcher(targets)
        patcher.start()
        _state.update(key=key, patcher=patcher, backend=backend, options=options, plan=plan,
                      raw_temp_png=raw_temp_png)
        return True


def uninstall() -> None:
    """Put FaceFusion's original functions back everywhere (the same objects). Idempotent."""
    with _lock:
        patcher = _state.get("patcher")
        if patcher is not None:
            patcher.stop()
        _state.clear()


def is_installed() -> bool:
    """True while the patches are installed."""
    with _lock:
        return bool(_state)


def installed_options() -> dict[str, Any]:
    """Mode, OpenCV generation, device, stabilisation options, fallback count, raw_temp_png ({} if not installed)."""
    with _lock:
        if not _state:
            return {}
        b: Backend = _state["backend"]
        return {"mode": b.mode, "opencv": b.generation, "gpu": b.gpu is not None, "gpu_reason": b.gpu_reason,
                "stabilize": _state["options"], "fallbacks": b.fallbacks, "raw_temp_png": _state["raw_temp_png"]}


def _options(stabilize: Any) -> StabilizeOptions | None:
    if stabilize is False or stabilize is None:
        return None
    if stabilize is True:
        return StabilizeOptions(record=Recorder())
    if isinstance(stabilize, StabilizeOptions):
        return stabilize
    raise TypeError(f"stabilize: expected a bool or StabilizeOptions, got {type(stabilize).__name__}")


def _targets(backend: Backend, options: StabilizeOptions | None, plan: StabilizePlan | None,
             raw_temp_png: bool = False) -> list[Target]:
    helper_module: dict[str, Any] = {}

    def templates() -> Any:
        module = helper_module.get("m") or sys.modules.get("facefusion.face_helper")
        if module is None:
            raise RuntimeError("facefusion.face_helper is not imported, yet its function was called")
        helper_module["m"] = module
        return module.WARP_TEMPLATE_SET

    def make_warp(original: Callable[..., Any], module_name: str) -> Callable[..., Any]:
        stab = options is not None and _is_processor(module_name)

        def warp_face_by_face_landmark_5(temp_vision_frame: Any, face_landmark_5: Any, warp_template: Any,
                                         crop_size: Any) -> Any:
            frame_no = current_frame() if stab else None
            if frame_no is None:
                return backend.warp(original, templates(), temp_vision_frame, face_landmark_5, warp_template,
                                    crop_size)
            return _stable_warp(backend, options, plan, original, templates(), frame_no, temp_vision_frame,
                                face_landmark_5, warp_template, crop_size)

        return warp_face_by_face_landmark_5

    def make_paste(original: Callable[..., Any], module_name: str) -> Callable[..., Any]:
        stab = options is not None and _is_processor(module_name)

        def paste_back(temp_vision_frame: Any, crop_vision_frame: Any, crop_vision_mask: Any,
                       affine_matrix: Any) -> Any:
            frame_no = current_frame() if stab else None
            if frame_no is not None:
                crop_vision_frame, crop_vision_mask = _stable_paste_inputs(
                    backend, options, plan, frame_no, module_name, temp_vision_frame, crop_vision_frame,
                    crop_vision_mask, affine_matrix)
            return backend.paste(original, temp_vision_frame, crop_vision_frame, crop_vision_mask, affine_matrix)

        return paste_back

    def make_box(original: Callable[..., Any], module_name: str) -> Callable[..., Any]:
        def create_box_mask(crop_vision_frame: Any, face_mask_blur: Any, face_mask_padding: Any) -> Any:
            return backend.box_mask(original, crop_vision_frame, face_mask_blur, face_mask_padding)

        return create_box_mask

    def make_frame(original: Callable[..., Any], module_name: str) -> Callable[..., Any]:
        signature = inspect.signature(original)

        def process_temp_frame(*args: Any, **kwargs: Any) -> Any:
            try:
                number = signature.bind(*args, **kwargs).arguments.get("frame_number")
            except TypeError:
                number = None
            if isinstance(number, int):
                with frame_scope(number):
                    return original(*args, **kwargs)
            return original(*args, **kwargs)

        return process_temp_frame

    def variant(name: str) -> str:
        # one replacement per processor module (stabilisation keys its records by it)
        return name if _is_processor(name) else ""

    targets = [
        Target("facefusion.face_helper", "warp_face_by_face_landmark_5", make_warp, variant),
        Target("facefusion.face_helper", "paste_back", make_paste, variant),
        Target("facefusion.face_masker", "create_box_mask", make_box),
    ]
    if options is not None:
        targets += [Target(m, a, make_frame) for m, a in FRAME_FUNCTIONS]
    if raw_temp_png:
        targets += [Target("facefusion.ffmpeg_builder", "set_output", make_set_output),
                    Target("facefusion.vision", "write_image", make_write_image)]
    return targets


def _stable_warp(backend: Backend, options: Any, plan: StabilizePlan | None, original: Callable[..., Any],
                 templates: Any, frame_no: int, frame: Any, landmark_5: Any, warp_template: Any,
                 crop_size: Any) -> Any:
    import numpy as np

    raw = np.asarray(landmark_5, np.float64).reshape(5, 2)
    if options.record is not None:
        options.record.add_landmarks(frame_no, raw)
    used, track = landmark_5, None
    if plan is not None:
        row = plan.lookup(frame_no, raw, options.match)
        if row is not None:
            track = row["track"]
            if options.landmarks and np.all(np.isfinite(row["smooth"])):
                used = np.asarray(row["smooth"], dtype=np.asarray(landmark_5).dtype)
    crop, matrix = backend.warp(original, templates, frame, used, warp_template, crop_size)
    if matrix is not None:
        _remember_track(matrix, (track, raw))
    return crop, matrix


def _stable_paste_inputs(backend: Backend, options: Any, plan: StabilizePlan | None, frame_no: int, processor: str,
                         frame: Any, crop: Any, mask: Any, matrix: Any) -> tuple[Any, Any]:
    import numpy as np

    info = _track_of(matrix)
    # A float64 crop (FaceFusion's hyperswap/ghost/... de-normalisation) is pasted by stock in
    # exact mode, but its gains and mask can be stabilised all the same: check it as float32.
    probe = crop.astype(np.float32) if isinstance(crop, np.ndarray) and crop.dtype == np.float64 else crop
    if info is None or not backend.paste_supported(frame, probe, mask, matrix):
        return crop, mask
    track, raw = info
    ops = backend.ops
    row = plan.row(frame_no, track) if plan is not None and track is not None else None
    target_gains = row["gains"].get(processor) if row is not None and options.color else None
    prev_mask = row["prev_mask"].get(processor) if row is not None and options.mask else None
    want_color = options.record is not None or target_gains is not None
    gains_now = None
    if want_color and crop.shape[2] == 3:
        h, w = crop.shape[:2]
        ref = ops.warp_affine(np.ascontiguousarray(frame), matrix, (w, h), border="replicate")
        crop_u8 = np.ascontiguousarray(np.clip(np.rint(crop), 0, 255).astype(np.uint8))
        gains_now = ops.estimate_color_gains(crop_u8, ref, np.ascontiguousarray(mask))
        if target_gains is not None:
            correction = np.clip(gains_now / target_gains, 0.25, 4.0)
            crop = ops.apply_color_gain_linear(crop_u8, correction)
    if options.record is not None:
        options.record.add_paste(frame_no, raw, processor, gains_now, mask)
    if prev_mask is not None:
        import cv2

        h, w = mask.shape
        prev = cv2.resize(np.asarray(prev_mask, np.float32), (w, h), interpolation=cv2.INTER_LINEAR)
        m = np.ascontiguousarray(mask, np.float32)
        held = ops.mask_hysteresis(m, np.ascontiguousarray(prev), t_in=options.t_in, t_out=options.t_out)
        ring = (m > options.ring[0]) & (m < options.ring[1])
        mask = np.where(ring, held, m).astype(np.float32)
    return crop, mask


# ---- command line --------------------------------------------------------------------------------

_HELP = """usage: python -m ffaccel.integrations.facefusion [ffaccel options] COMMAND [FaceFusion arguments]

Installs ffaccel's FaceFusion patches, then runs FaceFusion's own command line
(facefusion.py in the current directory, or facefusion.core.cli) with COMMAND and
the remaining arguments (run, headless-run, batch-run, job-*, ...).

ffaccel options (all optional, all before COMMAND):
  --ffaccel-mode exact|fast       exact (default): stock bytes; fast: ffaccel rounding
  --ffaccel-device DEVICE         cuda, cuda:N or N (fast mode only; falls back to CPU)
  --ffaccel-stabilize             both passes: run FaceFusion once to record a plan, then
                                  again applying it (twice the time; the output is written twice)
  --ffaccel-stabilize-record PATH record pass: write a stabilisation plan to PATH (.npz)
  --ffaccel-stabilize-plan PATH   apply the plan in PATH (landmarks, colour, mask)
  --ffaccel-raw-temp-png          write PNG temp frames uncompressed (same pixels and
                                  output video; about 2.7x larger temp files, far less CPU)
  --ffaccel-facefusion-dir DIR    FaceFusion checkout (default: current directory)
"""


def _parse_cli(argv: Sequence[str]) -> tuple[dict[str, str], list[str]]:
    opts: dict[str, str] = {}
    rest = list(argv)
    names = {"--ffaccel-mode", "--ffaccel-device", "--ffaccel-stabilize-record", "--ffaccel-stabilize-plan",
             "--ffaccel-facefusion-dir"}
    while rest and rest[0].startswith("--ffaccel-"):
        arg = rest.pop(0)
        name, eq, value = arg.partition("=")
        if name == "--ffaccel-stabilize" and not eq:
            opts["stabilize"] = "1"
            continue
        if name == "--ffaccel-raw-temp-png":
            if eq and value not in ("0", "1"):
                raise SystemExit(f"ffaccel: {name}: expected no value, =0 or =1, got {value!r}")
            opts["raw-temp-png"] = value if eq else "1"
            continue
        if name not in names:
            raise SystemExit(f"ffaccel: unknown option {name}\n\n{_HELP}")
        if not eq:
            if not rest:
                raise SystemExit(f"ffaccel: {name} needs a value")
            value = rest.pop(0)
        opts[name[10:]] = value
    return opts, rest


def main(argv: Sequence[str] | None = None) -> None:
    """``python -m ffaccel.integrations.facefusion``: install, then hand over to FaceFusion's CLI."""
    import atexit
    import os
    import runpy

    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help") and len(argv) == 1:
        print(_HELP)
        if not argv:
            raise SystemExit(2)
        return
    opts, rest = _parse_cli(argv)
    if opts.pop("stabilize", None):
        _two_passes(opts, rest)
        return
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    directory = os.path.abspath(opts.get("facefusion-dir", os.getcwd()))
    if directory not in sys.path:
        sys.path.insert(0, directory)
    options = None
    if "stabilize-record" in opts or "stabilize-plan" in opts:
        options = StabilizeOptions(plan=opts.get("stabilize-plan"),
                                   record=Recorder() if "stabilize-record" in opts else None)
    device = opts.get("device")
    if device is not None and device.isdigit():
        device = int(device)  # type: ignore[assignment]
    installed = install(opts.get("mode", "exact"), options or False, device,
                        raw_temp_png=opts.get("raw-temp-png", "0") == "1")
    if installed and options is not None and options.record is not None:
        path = opts["stabilize-record"]

        def _save() -> None:
            options.record.plan(options).save(path)  # type: ignore[union-attr]
            _log.warning("ffaccel: stabilisation plan for %d frames written to %s",
                         len(options.record.frames()), path)  # type: ignore[union-attr]

        atexit.register(_save)
    script = os.path.join(directory, "facefusion.py")
    sys.argv = [script, *rest]
    if os.path.isfile(script):
        runpy.run_path(script, run_name="__main__")
    else:
        try:
            from facefusion import core  # type: ignore[import-not-found]
        except ModuleNotFoundError as exc:
            if exc.name != "facefusion":
                raise
            raise SystemExit(f"ffaccel: FaceFusion not found: no facefusion.py in {directory} and no importable "
                             "facefusion package; run from a FaceFusion checkout or pass "
                             "--ffaccel-facefusion-dir DIR") from None
        core.cli()


def _record_output(args: list[str], folder: str) -> list[str]:
    """FaceFusion's arguments with its output (``-o`` / ``--output-path`` / ``--output-pattern``)
    moved into ``folder``: the record pass's unstabilised video must not replace a file the user
    already has there, nor be left in its place when the apply pass fails. A directory output
    becomes ``folder/out``; any other keeps its file name. Abbreviated or attached forms
    (``--output-p X``, ``-oX``) are passed on unchanged."""
    import os

    def moved(value: str) -> str:
        if os.path.isdir(value):
            os.makedirs(os.path.join(folder, "out"), exist_ok=True)
            return os.path.join(folder, "out")
        return os.path.join(folder, os.path.basename(value))

    out, i = [], 0
    while i < len(args):
        arg = args[i]
        name, eq, value = arg.partition("=")
        if name in ("-o", "--output-path", "--output-pattern") and (eq or i + 1 < len(args)):
            if eq:
                out.append(f"{name}={moved(value)}")
            else:
                out += [arg, moved(args[i + 1])]
                i += 1
        else:
            out.append(arg)
        i += 1
    return out


def _two_passes(opts: dict[str, str], rest: list[str]) -> None:
    """``--ffaccel-stabilize``: a record pass in a child process, then the apply pass here."""
    import os
    import subprocess
    import tempfile

    if "stabilize-record" in opts or "stabilize-plan" in opts:
        raise SystemExit("ffaccel: --ffaccel-stabilize runs both passes; do not combine it with "
                         "--ffaccel-stabilize-record or --ffaccel-stabilize-plan")
    common = [f"--ffaccel-{k}={v}" for k, v in opts.items()]
    with tempfile.TemporaryDirectory(prefix="ffaccel-plan-") as tmp:
        plan = os.path.join(tmp, "plan.npz")
        first = subprocess.run(check=False, args=[sys.executable, "-m", "ffaccel.integrations.facefusion", *common,
                                f"--ffaccel-stabilize-record={plan}", *_record_output(rest, tmp)])
        if first.returncode != 0 or not os.path.isfile(plan):
            raise SystemExit(first.returncode or 1)
        main([*common, f"--ffaccel-stabilize-plan={plan}", *rest])


if __name__ == "__main__":
    # Run the canonical module's main, so that install state lives in
    # ffaccel.integrations.facefusion and not in this __main__ copy.
    from ffaccel.integrations import facefusion as _adapter

    _adapter.main()
