"""FaceFusion end to end: the real ``headless-run`` on a whole clip, stock versus ffaccel.

For each FaceFusion source tree given (``--facefusion SRC=PYTHON``, PYTHON being an
interpreter with that version's requirements and ffaccel; default: ``FFACCEL_FACEFUSION_SRC``
with this interpreter), each thread setting (FaceFusion's default of 8 workers, and 1), runs:

- ``stock``: ``python facefusion.py headless-run ...``
- ``exact``: ``python -m ffaccel.integrations.facefusion --ffaccel-mode=exact headless-run ...``
- ``fast``: the same with ``--ffaccel-mode=fast``
- ``stabilized``: exact mode with ``--ffaccel-stabilize`` (a record pass, then the apply pass)

on the demo's rendered clip (``ffaccel.demo.clip``, 1080p, 150 frames, encoded losslessly
with FFV1) and the demo's source face, with the stand-in models of
tests/facefusion_standins.py, lossless PNG temp frames. Reports wall time, frames/s, time
inside ``onnxruntime.InferenceSession.run``, non-model time per frame, FaceFusion's
tasks (analyse, extract = decode, process, merge = encode, audio) and the processors' time;
exact mode's frames against stock's byte for byte; fast mode's differences (max, share of
pixels); the jitter of the pasted face's position with and without stabilisation (from
the face swapper's warp matrices, against the clip's ground truth). Goals of issue 15 are
printed as PASS/FAIL from the data. Without a FaceFusion source it exits 0 with a message.
``--motion real-SCENARIO`` replaces the demo clip with a scenario of the real-detector
benchmark (a real photograph along a known trajectory, benchmarks/real/clips.py) and the
stand-in detector's noise with MTCNN's own detections of every frame
(benchmarks/real/facefusion_case.py): the stabilisation rows then measure real detector output
inside the real FaceFusion; ``--summary`` prints those rows of several ``--json`` files as one table.
``--workflow memory`` runs FaceFusion 3.8's own default workflow instead (frames piped from
the decoder to the encoder, no temp frames): what a 3.8 user gets without options; there
only the output video's decoded frames are compared.

    python benchmarks/bench_facefusion_e2e.py --facefusion /src/ff-3.5.4=/venv354/bin/python \\
        --facefusion /src/ff-3.8.1=/venv381/bin/python --frames 150 --json e2e.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO / "benchmarks"))

import facefusion_e2e_harness as H  # noqa: E402
import facefusion_standins as S  # noqa: E402
from facefusion_ffmpeg import ffmpeg_bin_dir  # noqa: E402
from facefusion_e2e_summary import plot_summary, print_summary  # noqa: E402
from real import clips as real_clips  # noqa: E402  (benchmarks/real: numpy only at import)

VARIANT_ORDER = ("stock", "exact", "fast", "stabilized", "exact_rawpng", "fast_rawpng")
#: variants run when --variants is not given (the rawpng ones add the adapter's --ffaccel-raw-temp-png)
DEFAULT_VARIANTS = ("stock", "exact", "fast", "stabilized", "exact_rawpng")
#: --motion choices with a real photograph and MTCNN (the real-detector benchmark's scenarios)
REAL_MOTIONS = tuple(f"real-{s}" for s in real_clips.SCENARIOS)


def jitter_stats(case, matrices: dict[int, tuple[np.ndarray, np.ndarray]]) -> dict:
    """Pasted-face centre track vs the truth.

    jitter_px: mean |second difference| of the track (px per frame^2); truth_jitter_px: the same
    for the ground-truth track (the camera's own motion); jitter_vs_truth_px: of the track minus
    the truth (the detector noise that reaches the paste); error: distance to the truth. The
    second differences are taken over three consecutive frames that each have a swap and do not
    straddle one of the case's scene cuts (``case.cuts``); ``triples`` counts them.
    """
    frames, pos, truth = H.pasted_track(case, matrices)
    if len(frames) < 3:
        return {"frames": len(frames)}
    contiguous = np.all(np.diff(frames) == 1)
    f = np.asarray(frames)
    cuts = np.asarray(getattr(case, "cuts", ()), int)
    triple = (f[2:] - f[:-2] == 2) & ~((f[:-2, None] < cuts) & (cuts <= f[2:, None])).any(axis=1)
    eye = np.linalg.norm(case.truth5[frames, 1] - case.truth5[frames, 0], axis=1)
    err = np.linalg.norm(pos - truth, axis=1)
    width = case.face_width[frames]
    out = {"frames": len(frames), "contiguous": bool(contiguous), "eye_distance_px": float(eye.mean()),
           "face_width_px": float(width.mean()), "error_mean_px": float(err.mean()),
           "error_max_px": float(err.max()), "error_max_over_eye": float((err / eye).max()),
           "error_max_over_face_width": float((err / width).max())}
    out["triples"] = int(triple.sum())
    if triple.any():
        out["jitter_px"] = float(np.linalg.norm(np.diff(pos, 2, axis=0)[triple], axis=1).mean())
        out["truth_jitter_px"] = float(np.linalg.norm(np.diff(truth, 2, axis=0)[triple], axis=1).mean())
        out["jitter_vs_truth_px"] = float(np.linalg.norm(np.diff(pos - truth, 2, axis=0)[triple], axis=1).mean())
    out["track_frames"] = [int(x) for x in frames]
    out["track_px"] = np.round(pos, 3).tolist()
    out["truth_track_px"] = np.round(truth, 3).tolist()
    return out


def diff_summary(cmp: dict) -> dict:
    rows = [r for r in cmp["rows"] if r["max"] is not None]
    return {"frames": cmp["frames_ref"], "frames_other": cmp["frames_other"],
            "identical_frames": sum(r["identical"] for r in cmp["rows"]),
            "identical_png_files": sum(r["file_identical"] for r in cmp["rows"]),
            "all_identical": cmp["all_identical"],
            "max_abs": max((r["max"] for r in rows), default=None),
            "share_mean": float(np.mean([r["share"] for r in rows])) if rows else None,
            "share_max": max((r["share"] for r in rows), default=None),
            "mean_abs": float(np.mean([r["mean"] for r in rows])) if rows else None,
            "per_frame": [(r["frame"], r["identical"], r["max"]) for r in cmp["rows"]]}


def run_version(src: Path, python: str, case, work: Path, bin_dir: Path, threads_list, variants, repeats: int,
                ffaccel_src: Path | None, log, workflow: str = "disk") -> dict:
    ff = H.prepare_facefusion(src, work, case.models)
    version = H.facefusion_version(src)
    # the interpreter by its environment's folder name (no machine paths in committed results)
    interp = Path(python)
    out: dict = {"version": version, "python": str(Path(interp.parent.parent.name) / interp.parent.name / interp.name),
                 "configs": {}, "workflow": workflow}
    info = H.python_has(python, ["cv2", "onnxruntime", "numpy"])
    if info:
        raise SystemExit(f"{python}: {info}")
    import subprocess

    out["libs"] = subprocess.run([python, "-c", "import cv2, onnxruntime, numpy; print(cv2.__version__, "
                                  "onnxruntime.__version__, numpy.__version__)"], capture_output=True,
                                 text=True).stdout.strip()
    for threads in threads_list:
        tkey = "default" if threads is None else str(threads)
        cfg: dict = {}
        walls: dict[str, list[float]] = {v: [] for v in variants}
        non_model: dict[str, list[float]] = {v: [] for v in variants}
        non_model_cpu: dict[str, list[float]] = {v: [] for v in variants}
        cpus: dict[str, list[float]] = {v: [] for v in variants}
        first: dict = {}
        # Repeats are interleaved (stock, exact, ..., stock, exact, ...) so that a change of
        # the machine's load hits every variant alike; the first run of each is kept for bytes.
        for rep in range(repeats):
            for variant in variants:
                if variant in cfg:  # failed earlier
                    continue
                t0 = time.time()
                r = H.run_facefusion(ff, python, variant, case, work / "runs" / f"{version}-{tkey}-{variant}-{rep}",
                                     bin_dir, threads, ffaccel_src, workflow=workflow)
                if r.returncode != 0:
                    log(f"  {version} {tkey} {variant}: exit {r.returncode}\n{r.log_tail}")
                    cfg[variant] = {"error": r.returncode, "log": r.log_tail}
                    continue
                walls[variant].append(r.wall_s)
                summary = H.summarise_profiles(r, case.frames)
                non_model[variant].append(summary["non_model_ms_per_frame"])
                non_model_cpu[variant].append(summary["non_model_cpu_ms_per_frame"])
                cpus[variant].append(r.cpu_s)
                if rep == 0:
                    first[variant] = (r, summary)
                else:
                    shutil.rmtree(r.frames_dir.parent.parent.parent, ignore_errors=True)
                log(f"  {version} threads={tkey} {variant} rep {rep + 1}: {r.wall_s:.1f} s "
                    f"({len(r.frame_paths())} frames, {time.time() - t0:.0f} s, load {os.getloadavg()[0]:.1f})")
        stock_run = first.get("stock", (None, None))[0]
        for variant in variants:
            if variant not in first or variant in cfg:
                continue
            result, summary = first[variant]
            summary["wall_runs_s"] = walls[variant]
            summary["wall_s"] = statistics.median(walls[variant])
            summary["fps"] = case.frames / summary["wall_s"]
            summary["non_model_runs_ms_per_frame"] = non_model[variant]
            summary["non_model_ms_per_frame"] = statistics.median(non_model[variant])
            summary["cpu_runs_s"] = cpus[variant]
            summary["cpu_s"] = statistics.median(cpus[variant])
            summary["non_model_cpu_runs_ms_per_frame"] = non_model_cpu[variant]
            summary["non_model_cpu_ms_per_frame"] = statistics.median(non_model_cpu[variant])
            summary["frames_written"] = len(result.frame_paths())
            summary["jitter"] = jitter_stats(case, H.swap_matrices(result))
            if variant != "stock":
                summary["adapter_active"] = any(p and p.get("mode") for p in summary["ffaccel"])
                if not summary["adapter_active"]:
                    log(f"  WARNING {version} {variant}: the adapter was not installed in the child (stock ran)")
                if stock_run is not None:
                    summary["vs_stock"] = diff_summary(H.compare_frames(stock_run, result))
                    summary["vs_stock"]["output_video"] = H.compare_outputs(stock_run, result, bin_dir)
            cfg[variant] = summary
        for variant, (result, _) in first.items():
            shutil.rmtree(result.frames_dir.parent.parent.parent, ignore_errors=True)
        out["configs"][tkey] = cfg
    return out


def goals(results: list[dict]) -> list[tuple[str, bool, str]]:
    rows = []
    for res in results:
        v = res["version"]
        for tkey, cfg in res["configs"].items():
            for variant in ("exact", "exact_rawpng"):
                ex = cfg.get(variant, {}).get("vs_stock")
                if ex is None:
                    continue
                ov = ex.get("output_video")
                if res.get("workflow") == "memory":  # no temp frames: the output video alone
                    ok = ov is not None and ov["frames"] > 0 and ov["frames_identical"]
                    detail = (f"memory workflow: output video's {ov['frames'] if ov else 0} decoded frames "
                              f"{'identical' if ok else 'DIFFER'}")
                    rows.append((f"{v} threads={tkey}: {variant} byte-identical to stock on every frame", ok, detail))
                    continue
                ok = bool(ex["all_identical"]) and ex["frames"] == ex["frames_other"] > 0
                detail = f"{ex['identical_frames']}/{ex['frames']} frames identical"
                if ov is not None:
                    ok = ok and ov["frames_identical"]
                    detail += f"; output video's decoded frames {'identical' if ov['frames_identical'] else 'DIFFER'}"
                rows.append((f"{v} threads={tkey}: {variant} byte-identical to stock on every frame", ok, detail))
        tkey = "default" if "default" in res["configs"] else next(iter(res["configs"]))
        cfg = res["configs"][tkey]
        threads = "default threads" if tkey == "default" else f"threads={tkey}"
        stock = cfg.get("stock", {}).get("non_model_ms_per_frame")
        stock_cpu = cfg.get("stock", {}).get("non_model_cpu_ms_per_frame")
        for mode in ("exact", "fast", "exact_rawpng", "fast_rawpng"):
            got = cfg.get(mode, {}).get("non_model_ms_per_frame")
            if stock and got:
                rows.append((f"{v}: {mode} non-model time per frame <= 1/4 of stock's ({threads})",
                             got <= stock / 4, f"{got:.1f} vs {stock:.1f} ms/frame (ratio {got / stock:.2f})"))
            got_cpu = cfg.get(mode, {}).get("non_model_cpu_ms_per_frame")
            if stock_cpu and got_cpu:
                rows.append((f"{v}: {mode} non-model CPU time per frame <= 1/4 of stock's ({threads})",
                             got_cpu <= stock_cpu / 4, f"{got_cpu:.1f} vs {stock_cpu:.1f} CPU ms/frame "
                             f"(ratio {got_cpu / stock_cpu:.2f})"))
        raw = cfg.get("exact", {}).get("jitter", {})
        st = cfg.get("stabilized", {}).get("jitter", {})
        if "jitter_px" in raw and "jitter_px" in st:
            rows.append((f"{v}: stabilised jitter (about the true motion) <= raw/5",
                         st["jitter_vs_truth_px"] <= raw["jitter_vs_truth_px"] / 5,
                         f"{st['jitter_vs_truth_px']:.2f} vs {raw['jitter_vs_truth_px']:.2f} px; plain second "
                         f"differences {st['jitter_px']:.2f} vs {raw['jitter_px']:.2f} "
                         f"(truth {raw['truth_jitter_px']:.2f})"))
            rows.append((f"{v}: no stabilised frame slides off the face (error < 0.1 eye distance)",
                         st["error_max_over_eye"] < 0.1,
                         f"max error {st['error_max_px']:.1f} px = {st['error_max_over_eye']:.3f} eye distances"))
            if "error_max_over_face_width" in st:
                rows.append((f"{v}: stabilised worst-frame error <= 2 % of face width (issue 13's bar)",
                             st["error_max_over_face_width"] <= 0.02,
                             f"{100 * st['error_max_over_face_width']:.2f} % (raw: "
                             f"{100 * raw['error_max_over_face_width']:.2f} %)"))
    return rows


def print_tables(results: list[dict], frames: int, size: str) -> None:
    print(f"\nFaceFusion headless-run, {frames} frames at {size}, stand-in models "
          f"(wall = median; model = time inside InferenceSession.run, summed over threads; "
          "CPU = user + system seconds of the whole process tree, ffmpeg included, median; "
          "temp PNG read / write: in the frame loop, summed over threads)")
    head = ("| FaceFusion | threads | variant | wall s | frames/s | model s | non-model ms/frame | vs stock "
            "| CPU s | non-model CPU ms/frame | CPU vs stock "
            "| analyse s | extract s | process s | merge s | face_swapper s | temp PNG read / write s |")
    print(head)
    print("|" + "---|" * 17)
    for res in results:
        for tkey, cfg in res["configs"].items():
            stock = cfg.get("stock", {}).get("non_model_ms_per_frame")
            for variant in VARIANT_ORDER:
                s = cfg.get(variant)
                if not s or "error" in s:
                    if s:
                        print(f"| {res['version']} | {tkey} | {variant} | error {s['error']} |")
                    continue
                t = s["tasks_s"]
                io = s.get("frame_io_s", {})
                proc = t.get("process_video", t.get("process_disk_frames", t.get("process_memory_frames", 0.0)))
                ratio = f"{s['non_model_ms_per_frame'] / stock:.2f}x" if stock else "-"
                stock_cpu = cfg.get("stock", {}).get("non_model_cpu_ms_per_frame")
                cpu_ms = s.get("non_model_cpu_ms_per_frame")
                cpu_cols = (f"{s['cpu_s']:.1f} | {cpu_ms:.0f} | "
                            f"{(f'{cpu_ms / stock_cpu:.2f}x' if stock_cpu else '-')}" if cpu_ms is not None
                            else "- | - | -")
                print(f"| {res['version']} | {tkey} | {variant} | {s['wall_s']:.1f} | {s['fps']:.2f} | "
                      f"{s['model_s']:.2f} | {s['non_model_ms_per_frame']:.0f} | {ratio} | {cpu_cols} | "
                      f"{t.get('analyse_video', 0.0):.1f} | {t.get('extract_frames', 0.0):.1f} | {proc:.1f} | "
                      f"{t.get('merge_frames', 0.0):.1f} | {s['processors_s'].get('face_swapper', 0.0):.1f} | "
                      f"{io.get('read_temp_frame', 0.0):.1f} / {io.get('write_temp_frame', 0.0):.1f} |")
    cpu_rows = [(res, tkey, variant, cfg[variant]) for res in results for tkey, cfg in res["configs"].items()
                for variant in VARIANT_ORDER if cfg.get(variant, {}).get("tasks_cpu_s")]
    if cpu_rows:
        print("\nCPU seconds by task (first run of each variant; FaceFusion's own threads + the ffmpeg "
              "children reaped during the task: FaceFusion 3.8 closes its video readers, the content analyser's "
              "included, after the frame loop, so their decoding counts under process; 'rest' = the whole "
              "tree's CPU minus the tasks: start-up, model loading, audio)")
        print("| FaceFusion | threads | variant | analyse | extract | process | merge | rest | total |")
        print("|---|---|---|---|---|---|---|---|---|")
        for res, tkey, variant, s in cpu_rows:
            tc = s["tasks_cpu_s"]
            proc = next((tc[k] for k in ("process_video", "process_disk_frames", "process_memory_frames")
                         if k in tc), [0.0, 0.0])
            cols = [tc.get("analyse_video", [0.0, 0.0]), tc.get("extract_frames", [0.0, 0.0]), proc,
                    tc.get("merge_frames", [0.0, 0.0])]
            total = s["cpu_runs_s"][0]
            # 3.5-3.7's setup task calls analyse_video (both are timed): leave setup out of the sum
            rest = total - sum(a + b for k, (a, b) in tc.items() if k != "setup")
            cells = " | ".join(f"{a + b:.1f}" for a, b in cols)
            print(f"| {res['version']} | {tkey} | {variant} | {cells} | {rest:.1f} | {total:.1f} |")
    print("\nBytes against stock (PNG temp frames, decoded pixels)")
    print("| FaceFusion | threads | variant | identical frames | max abs diff | share of pixels differing "
          "(mean / max over frames) | PNG files identical | output video: decoded frames / file identical |")
    print("|---|---|---|---|---|---|---|---|")
    for res in results:
        for tkey, cfg in res["configs"].items():
            for variant in VARIANT_ORDER[1:]:
                d = cfg.get(variant, {}).get("vs_stock")
                if d:
                    share = ("-" if d["share_mean"] is None
                             else f"{100 * d['share_mean']:.3f} % / {100 * d['share_max']:.3f} %")
                    ov = d.get("output_video")
                    video = "-" if not ov else (f"{'yes' if ov['frames_identical'] else 'NO'} / "
                                                f"{'yes' if ov['file_identical'] else 'no'}")
                    print(f"| {res['version']} | {tkey} | {variant} | {d['identical_frames']}/{d['frames']} | "
                          f"{d['max_abs']} | {share} | {d['identical_png_files']}/{d['frames']} | {video} |")
    print("\nPasted face position (face swapper's warp: template centre mapped back into the frame)")
    print("| FaceFusion | threads | variant | jitter px | jitter about truth px | truth jitter px | mean error px "
          "| max error px |")
    print("|---|---|---|---|---|---|---|---|")
    for res in results:
        for tkey, cfg in res["configs"].items():
            for variant in ("stock", "exact", "stabilized"):
                j = cfg.get(variant, {}).get("jitter", {})
                if "jitter_px" in j:
                    print(f"| {res['version']} | {tkey} | {variant} | {j['jitter_px']:.2f} | "
                          f"{j['jitter_vs_truth_px']:.2f} | {j['truth_jitter_px']:.2f} | {j['error_mean_px']:.2f} | "
                          f"{j['error_max_px']:.2f} |")


def real_case(args, work: Path, bin_dir: Path, log):
    """The case of ``--motion real-SCENARIO`` (benchmarks/real/facefusion_case.py)."""
    from real.facefusion_case import render_real_case

    res = {size: name for name, size in real_clips.RES.items()}.get((args.width, args.height))
    if res is None or not 3 <= args.frames <= real_clips.FRAMES:
        raise SystemExit(f"--motion {args.motion}: --width/--height must be one of "
                         f"{sorted(real_clips.RES.values())} and --frames 3..{real_clips.FRAMES}")
    return render_real_case(work / "cache", args.motion.removeprefix("real-"), res, args.face_px, args.photo,
                            str(bin_dir / "ffmpeg"), frames=args.frames, log=log)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--facefusion", action="append", default=[], metavar="SRC[=PYTHON]",
                    help="FaceFusion source tree, optionally =python with its requirements (repeatable)")
    ap.add_argument("--frames", type=int, default=150)
    ap.add_argument("--width", type=int, default=1920)
    ap.add_argument("--height", type=int, default=1080)
    ap.add_argument("--threads", default="default,1",
                    help="comma list: 'default' (FaceFusion's own, 8) and/or numbers")
    ap.add_argument("--variants", default=",".join(DEFAULT_VARIANTS),
                    help="comma list; without stock first, no byte comparison")
    ap.add_argument("--motion", default="demo", choices=("demo", "fast-nod") + REAL_MOTIONS,
                    help="the demo's motion, or it plus a fast nod (20 px/frame peak at 1080p), or real-SCENARIO: "
                         "a real photograph along a scenario of the real-detector benchmark, with MTCNN's "
                         "detections of every frame as the detector's output (--photo, --face-px; --width and "
                         "--height one of 1280x720, 1920x1080, 3840x2160; --frames at most 96)")
    ap.add_argument("--photo", default="astronaut", help="real-SCENARIO: the photograph (astronaut, hopper, camera)")
    ap.add_argument("--face-px", type=int, default=240, help="real-SCENARIO: the face width, px")
    ap.add_argument("--repeats", type=int, default=1, help="timed runs per configuration (median)")
    ap.add_argument("--workflow", default="disk", choices=("disk", "memory"),
                    help="disk: PNG temp frames, compared byte for byte (the default); memory: FaceFusion "
                         "3.8's own default (no temp frames; only the output video's decoded frames compared)")
    ap.add_argument("--ffaccel-src", type=Path, default=None,
                    help="put this source folder (containing ffaccel/) first on the child's PYTHONPATH")
    ap.add_argument("--work", type=Path, default=None, help="work folder (default: a temporary one)")
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--report", type=Path, nargs="+", default=None, metavar="JSON",
                    help="print the tables and goals of earlier --json files (no runs)")
    ap.add_argument("--summary", type=Path, nargs="+", default=None, metavar="JSON",
                    help="print one table of the stabilisation rows of earlier --json files (no runs)")
    ap.add_argument("--plot", type=Path, default=None, metavar="PNG",
                    help="with --summary: plot each file's pasted-face error per frame, raw and stabilised")
    args = ap.parse_args(argv)
    if args.summary:
        print_summary(args.summary)
        if args.plot:
            plot_summary(args.summary, args.plot)
        return 0
    if args.report:
        for path in args.report:
            doc = json.loads(path.read_text())
            print(f"<!-- {path.name}: {doc['machine']} -->")
            wf = doc["results"][0].get("workflow", "disk") if doc["results"] else "disk"
            print_tables(doc["results"], doc["frames"], f"{doc['size']}, motion {doc.get('motion', 'demo')}, "
                                                        f"{wf} workflow")
            print("\nGoals (issue 15)\n")
            print("| goal | result | data |\n|---|---|---|")
            for g in goals(doc["results"]):
                print(f"| {g[0]} | {'PASS' if g[1] else 'FAIL'} | {g[2]} |")
        return 0

    specs = list(args.facefusion)
    if not specs and os.environ.get("FFACCEL_FACEFUSION_SRC"):
        specs = [os.environ["FFACCEL_FACEFUSION_SRC"]]
    if not specs:
        print("bench_facefusion_e2e: skipped: no FaceFusion source (give --facefusion SRC[=PYTHON] or set "
              "FFACCEL_FACEFUSION_SRC)")
        return 0
    variants = [v for v in args.variants.split(",") if v]
    unknown = set(variants) - set(VARIANT_ORDER)
    if unknown:
        raise SystemExit(f"--variants: expected names from {VARIANT_ORDER}, got {sorted(unknown)}")
    variants.sort(key=VARIANT_ORDER.index)
    threads_list = [None if t == "default" else int(t) for t in args.threads.split(",") if t]
    work = args.work or Path(tempfile.mkdtemp(prefix="ffaccel-e2e-"))
    work.mkdir(parents=True, exist_ok=True)
    bin_dir, why = ffmpeg_bin_dir(work / "bin")
    if bin_dir is None:
        print(f"bench_facefusion_e2e: skipped: {why}")
        return 0

    def log(msg: str) -> None:
        print(msg, flush=True)

    t0 = time.time()
    if args.motion.startswith("real-"):
        case = real_case(args, work, bin_dir, log)
    else:
        case = S.render_case(work / "cache", args.frames, args.width, args.height, str(bin_dir / "ffmpeg"),
                             motion=args.motion)
    log(f"case {case.root.name}: rendered/built in {time.time() - t0:.0f} s")
    results = []
    for spec in specs:
        src, _, python = spec.partition("=")
        results.append(run_version(Path(src), python or sys.executable, case, work, bin_dir, threads_list,
                                   variants, args.repeats, args.ffaccel_src, log, args.workflow))
    size = f"{args.width}x{args.height}"
    print_tables(results, args.frames, f"{size}, motion {args.motion}, {args.workflow} workflow")
    g = goals(results)
    print("\nGoals (issue 15)")
    for name, ok, detail in g:
        print(f"  {'PASS' if ok else 'FAIL'}  {name}: {detail}")
    if args.json:
        machine = {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform(),
                   "load_average": os.getloadavg()}
        doc = {"frames": args.frames, "size": size, "motion": args.motion, "workflow": args.workflow, "machine": machine,
               "results": results,
               **({"real": {"photo": args.photo, "face_px": args.face_px, "case": case.root.name}}
                  if args.motion.startswith("real-") else {}),
               "goals": [{"goal": n, "pass": ok, "detail": d} for n, ok, d in g]}
        args.json.write_text(json.dumps(doc, indent=1))
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
