"""Timing and matrix probe for a FaceFusion child process (installed as its ``sitecustomize``).

The end-to-end harness (tests/facefusion_e2e_harness.py) copies this file as
``sitecustomize.py`` into a folder on the child's PYTHONPATH when ``FFE2E_PROFILE_DIR`` is
set. It changes no result; it only measures:

- ``onnxruntime.InferenceSession.run``: seconds and calls per model file (summed over
  threads);
- FaceFusion's video tasks (``facefusion.workflows.image_to_video``'s setup / analyse /
  extract / process / merge / audio / finalize functions, looked up there at call time):
  wall seconds each;
- the processors' ``process_frame`` (face_swapper ...): seconds and calls, summed over threads;
- reading and writing the PNG temp frames in the frame loop: seconds and calls, summed over threads;
- every ``cv2.estimateAffinePartial2D`` call made while a frame is processed: the frame
  number, the 5 source points, the destination template's extent, the matrix, and whether
  the nearest caller outside the warp helpers is the face swapper's module (``swapper``). Stock and ffaccel
  both call it through the ``cv2`` module. The face analyser's own warps (landmarker,
  recogniser, classifier) also run inside a frame, for that frame's faces and, in
  FaceFusion 3.5-3.7, for the reference frame's face in whichever thread first needs it;
  ``swapper`` tells the swap's warp apart from them.

With ``FFE2E_KEEP_TEMP=1`` FaceFusion 3.8's ``clear`` task (which deletes the temp frames;
3.8 has no ``--keep-temp``) is skipped. At exit it writes ``<FFE2E_PROFILE_DIR>/<pid>.json``.
"""

import atexit
import importlib.abc
import json
import os
import sys
import threading
import time

_T0 = time.perf_counter()
_OUT = os.environ.get("FFE2E_PROFILE_DIR")
_lock = threading.Lock()
_local = threading.local()
_data = {"models": {}, "tasks": {}, "processors": {}, "frame_io": {}, "matrices": [], "argv": list(sys.argv)}

_TASKS = ("setup", "clear", "analyse_video", "extract_frames", "process_video", "process_disk_frames",
          "process_memory_frames", "merge_frames", "restore_audio", "finalize_video")


def _add(table, key, seconds):
    with _lock:
        row = table.setdefault(key, [0.0, 0])
        row[0] += seconds
        row[1] += 1


def _wrap_ort():
    import onnxruntime

    original = onnxruntime.InferenceSession.run

    def run(self, *args, **kwargs):
        t = time.perf_counter()
        try:
            return original(self, *args, **kwargs)
        finally:
            name = os.path.basename(str(getattr(self, "_model_path", "?")))
            _add(_data["models"], name, time.perf_counter() - t)

    onnxruntime.InferenceSession.run = run


def _wrap_cv2():
    import cv2
    import numpy

    original = cv2.estimateAffinePartial2D

    def in_swapper():
        # the nearest caller outside the warp helpers (FaceFusion's face_helper, ffaccel's
        # adapter): the face swapper's module for the swap's warp, the recogniser's,
        # classifier's or landmarker's for the analysis of a face (which in FaceFusion 3.8
        # runs inside the swapper's process_frame, and in 3.5 for the reference frame too)
        f = sys._getframe(2)
        while f is not None:
            name = str(f.f_globals.get("__name__", ""))
            if not (name == "facefusion.face_helper" or name.startswith("ffaccel")):
                return name.startswith("facefusion.processors.modules.face_swapper")
            f = f.f_back
        return False

    def estimateAffinePartial2D(src, dst, *args, **kwargs):
        result = original(src, dst, *args, **kwargs)
        frame = getattr(_local, "frame", None)
        if frame is not None:
            try:
                matrix = numpy.asarray(result[0], numpy.float64).tolist() if result[0] is not None else None
                row = {"frame": int(frame), "src": numpy.asarray(src, numpy.float64).reshape(-1, 2).tolist(),
                       "dst": numpy.asarray(dst, numpy.float64).reshape(-1, 2).tolist(),
                       "extent": float(numpy.abs(numpy.asarray(dst, numpy.float64)).max()), "matrix": matrix,
                       "swapper": in_swapper()}
                with _lock:
                    _data["matrices"].append(row)
            except Exception:  # never disturb the run
                pass
        return result

    cv2.estimateAffinePartial2D = estimateAffinePartial2D


def _timed(table, key, fn):
    def wrapper(*args, **kwargs):
        t = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            _add(table, key, time.perf_counter() - t)

    wrapper.__wrapped__ = fn
    return wrapper


def _task_timed(name, fn):
    """Like _timed for a video task, plus the CPU seconds it used: this process (all threads)
    and the child processes reaped meanwhile (ffmpeg's extract and merge; a video reader's
    ffmpeg is counted when FaceFusion closes it, which may be in a later task)."""
    import resource

    def wrapper(*args, **kwargs):
        t = time.perf_counter()
        s0, c0 = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
        try:
            return fn(*args, **kwargs)
        finally:
            s1, c1 = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
            with _lock:
                row = _data["tasks"].setdefault(name, [0.0, 0, 0.0, 0.0])
                row[0] += time.perf_counter() - t
                row[1] += 1
                row[2] += (s1.ru_utime - s0.ru_utime) + (s1.ru_stime - s0.ru_stime)
                row[3] += (c1.ru_utime - c0.ru_utime) + (c1.ru_stime - c0.ru_stime)

    wrapper.__wrapped__ = fn
    return wrapper


def _frame_from_path(path):
    stem = os.path.splitext(os.path.basename(str(path)))[0]
    return int(stem) if stem.isdigit() else None


def _patch_module(module):
    name = module.__name__
    if name == "facefusion.workflows.image_to_video":
        for task in _TASKS:
            fn = getattr(module, task, None)
            if callable(fn):
                if task == "clear" and os.environ.get("FFE2E_KEEP_TEMP") == "1":
                    setattr(module, task, lambda *a, **k: 0)
                else:
                    setattr(module, task, _task_timed(task, fn))
        read = getattr(module, "read_static_image", None)  # 3.5-3.7: the temp frame's path names the frame
        if callable(read):
            def read_static_image(path, *args, **kwargs):
                if args and args[0] == "rgba" or kwargs.get("color_mode") == "rgba":
                    _local.frame = _frame_from_path(path)
                    return _timed(_data["frame_io"], "read_temp_frame", read)(path, *args, **kwargs)
                return read(path, *args, **kwargs)

            module.read_static_image = read_static_image
    if name in ("facefusion.workflows.image_to_video", "facefusion.workflows.to_video"):
        write = getattr(module, "write_image", None)  # the processed temp frame, written back as PNG
        if callable(write):
            module.write_image = _timed(_data["frame_io"], "write_temp_frame", write)
        if name.endswith("to_video"):
            read38 = getattr(module, "read_static_image", None)
            if callable(read38):
                module.read_static_image = _timed(_data["frame_io"], "read_temp_frame", read38)
    if name == "facefusion.workflows.to_video":  # 3.8
        for fname in ("process_disk_frame", "process_memory_frame"):
            fn = getattr(module, fname, None)
            if callable(fn):
                def make(fn, fname):
                    def wrapper(*args, **kwargs):
                        number = args[1] if fname == "process_disk_frame" and len(args) > 1 else (
                            args[0] if args else kwargs.get("frame_number"))
                        _local.frame = number
                        try:
                            return fn(*args, **kwargs)
                        finally:
                            _local.frame = None
                    return wrapper

                setattr(module, fname, make(fn, fname))
    if name.startswith("facefusion.processors.modules.") and name.endswith(".core"):
        fn = getattr(module, "process_frame", None)
        if callable(fn):
            module.process_frame = _timed(_data["processors"], name.split(".")[-2], fn)


class _Loader(importlib.abc.Loader):
    def __init__(self, loader):
        self._loader = loader

    def create_module(self, spec):
        create = getattr(self._loader, "create_module", None)
        return create(spec) if create is not None else None

    def exec_module(self, module):
        self._loader.exec_module(module)
        _patch_module(module)

    def __getattr__(self, name):
        return getattr(self._loader, name)


class _Finder(importlib.abc.MetaPathFinder):
    def __init__(self):
        self._busy = threading.local()

    def find_spec(self, fullname, path, target=None):
        if not fullname.startswith("facefusion.") or getattr(self._busy, "on", False):
            return None
        self._busy.on = True
        try:
            for finder in sys.meta_path:
                if finder is self or not hasattr(finder, "find_spec"):
                    continue
                spec = finder.find_spec(fullname, path, target)
                if spec is not None:
                    break
            else:
                return None
        finally:
            self._busy.on = False
        if spec.loader is not None and hasattr(spec.loader, "exec_module"):
            spec.loader = _Loader(spec.loader)
        return spec


def _dump():
    import resource

    _data["wall_s"] = time.perf_counter() - _T0
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    _data["cpu_s"] = {"self": own.ru_utime + own.ru_stime, "children": children.ru_utime + children.ru_stime}
    swapper = sys.modules.get("facefusion.processors.modules.face_swapper.core")
    if swapper is not None:  # whose helpers the face swapper called at the end (stock or ffaccel)
        _data["swapper_helpers"] = {n: getattr(getattr(swapper, n, None), "__module__", None)
                                    for n in ("warp_face_by_face_landmark_5", "paste_back", "create_box_mask")}
    adapter = sys.modules.get("ffaccel.integrations.facefusion")
    if adapter is not None:
        try:
            opts = adapter.installed_options()
            _data["ffaccel"] = {k: opts.get(k) for k in ("mode", "opencv", "gpu", "fallbacks", "raw_temp_png")}
        except Exception as exc:  # never disturb the run
            _data["ffaccel"] = {"error": repr(exc)}
    path = os.path.join(_OUT, f"{os.getpid()}.json")
    with open(path, "w") as fh:
        json.dump(_data, fh)


if _OUT:
    try:
        _wrap_ort()
        _wrap_cv2()
    except ImportError:
        pass
    sys.meta_path.insert(0, _Finder())
    atexit.register(_dump)
