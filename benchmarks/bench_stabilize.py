"""stabilize_track on synthetic rigid noise and on real detector tracks (issue 13).

    PYTHONPATH=src python3 benchmarks/bench_stabilize.py                 # synthetic table
    PYTHONPATH=src python3 benchmarks/bench_stabilize.py --real DIR      # + real-track table
    PYTHONPATH=src python3 benchmarks/bench_stabilize.py --cost          # + CPU time
    PYTHONPATH=src python3 benchmarks/bench_stabilize.py --cost-offline  # offline vs the numpy pipeline, interleaved
    PYTHONPATH=src python3 benchmarks/bench_stabilize.py --cost-causal   # causal update(): Python vs _core, interleaved
    PYTHONPATH=src python3 benchmarks/bench_stabilize.py --nod-bias DIR  # fast-nod worst frame, net of detector bias
    PYTHONPATH=src python3 benchmarks/bench_stabilize.py --lag-check DIR # the two lag metrics side by side

DIR holds the .npz tracks written by benchmarks/bench_stability_real.py --export
(keys truth, detected, face_width, cuts, fps). Prints markdown tables: the ones in
docs/results/stability_history.md. Metrics: jitter = RMS of the second time difference of
(output - truth); lag = -(e . v) / |v|^2 on frames where the face moves (e against
the detector's own output on real tracks, so its constant bias is not lag); worst =
largest point error. One Euro is grid-tuned on each track with its truth (9 x 7
grid, least jitter at lag <= 1 frame; the least-lag setting when none is).
"""

from __future__ import annotations

import argparse
import glob
import os
import time

import numpy as np

from ffaccel.stability import OneEuroFilter, stabilize_track

FPS = 30.0
MODES = ("offline", "fixed_lag", "causal")
_ARC = np.array([[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366], [41.5493, 92.3655], [70.7299, 92.2041]])
TEMPLATE = (_ARC - _ARC.mean(0)) / (73.5318 - 38.2946)  # 5 points, inter-ocular distance 1
SCENARIOS = ("still", "slow_pan", "shaky", "fast_nod", "fast_turn", "zoom", "cut", "misses", "expression")


def scenario(name: str, width: float = 100.0, frames: int = 150, seed: int = 0) -> dict:
    """Truth (T, 5, 2) of a 5-point face ``width`` px wide (2.5 inter-ocular distances); motion in widths."""
    rng = np.random.default_rng(seed)
    t = np.arange(frames, dtype=float)
    cx, cy = np.full(frames, 640.0), np.full(frames, 360.0)
    scale, rot = np.full(frames, width / 2.5), np.zeros(frames)
    ramp, miss, cut = np.zeros(frames, bool), np.zeros(frames, bool), None
    shape = np.repeat(TEMPLATE[None], frames, 0)
    u = width / 100.0
    if name in ("slow_pan", "misses"):
        cx += np.clip(t - 20, 0, None) * u
        ramp[30:] = True
        if name == "misses":
            miss[rng.choice(np.arange(20, frames), frames // 10, replace=False)] = True
            miss[frames // 2: frames // 2 + 5] = True
    elif name == "shaky":
        ph = rng.uniform(0, 2 * np.pi, 4)
        cx += u * (4 * np.sin(2 * np.pi * 1.3 * t / FPS + ph[0]) + 2.5 * np.sin(2 * np.pi * 2.7 * t / FPS + ph[1]))
        cy += u * 3 * np.sin(2 * np.pi * 1.1 * t / FPS + ph[2])
        rot += np.radians(2) * np.sin(2 * np.pi * 0.8 * t / FPS + ph[3])
    elif name == "fast_nod":  # 2 Hz, peak 0.12 widths per frame, two nods from frame 40
        ph = 2 * np.pi * 2.0 * (t - 40) / FPS
        act = (t >= 40) & (t < 40 + FPS)
        cy += np.where(act, 0.12 * width * FPS / (2 * np.pi * 2.0) * (1 - np.cos(ph)), 0.0)
        scale *= 1 + np.where(act, 0.03 * (1 - np.cos(ph)), 0.0)
    elif name == "fast_turn":  # one width sideways and 15 degrees in 20 frames (peak 0.1 widths/frame)
        tt = np.clip((t - 40) / 20, 0, 1)
        prog = tt - np.sin(2 * np.pi * tt) / (2 * np.pi)
        cx += width * prog
        rot += np.radians(15.0) * prog
        ramp[44:56] = True
    elif name == "zoom":
        scale *= np.exp(np.clip(t - 30, 0, 60) / 60 * np.log(1.5))
        ramp[35:88] = True
    elif name == "cut":
        cut = frames // 2
        cx += 0.5 * u * t
        cx[cut:] += 3 * width
        cy[cut:] += 0.5 * width
        scale[cut:] *= 0.8
    elif name == "expression":  # mouth corners 0.15 inter-ocular distances apart each, over 6 frames
        k = np.clip((t - 60) / 6, 0, 1)
        shape[:, 3, 0] -= 0.15 * k
        shape[:, 4, 0] += 0.15 * k
    elif name != "still":
        raise ValueError(name)
    c, s = np.cos(rot)[:, None], np.sin(rot)[:, None]
    x = scale[:, None] * (c * shape[..., 0] - s * shape[..., 1]) + cx[:, None]
    y = scale[:, None] * (s * shape[..., 0] + c * shape[..., 1]) + cy[:, None]
    return {"truth": np.stack([x, y], -1), "ramp": ramp, "miss": miss, "cut": cut, "width": width}


def rigid_noise(truth: np.ndarray, sigma: float, rng: np.random.Generator, share: float = 0.89) -> np.ndarray:
    t, n, _ = truth.shape
    return (truth + rng.normal(0, sigma * np.sqrt(share), (t, 1, 2))
            + rng.normal(0, sigma * np.sqrt(1 - share), (t, n, 2)))


def measure(out, truth, width, cuts=(), moving=None, reference=None, skip=0) -> dict:
    e = out - truth
    d2 = (e[2:] - 2 * e[1:-1] + e[:-2])[skip:]
    keep = np.ones(len(e) - 2, bool)
    for c in cuts:
        keep[max(c - 2, 0):c] = False
    d2 = d2[keep[skip:]]
    d2 = d2[np.all(np.isfinite(d2), axis=(1, 2))]
    ok = np.all(np.isfinite(e), axis=(1, 2))
    ok[:skip] = False
    pe = np.sqrt((e[ok] ** 2).sum(-1))
    res = {"jitter": np.sqrt(np.mean(d2**2)) / width * 100, "rmse": np.sqrt(np.mean(pe**2)) / width * 100,
           "worst": pe.max() / width * 100}
    if moving is not None:
        er = out - (truth if reference is None else reference)
        sel = moving & np.all(np.isfinite(er), axis=(1, 2))
        for c in cuts:
            sel[max(c - 2, 0):c + 2] = False
        if sel.sum() > 3:
            vel = np.gradient(truth, axis=0)
            res["lag"] = float(np.mean(-np.sum(er[sel] * vel[sel], axis=(1, 2)) / np.sum(vel[sel] ** 2, axis=(1, 2))))
    return res


def run_one_euro(z: np.ndarray, min_cutoff: float, beta: float) -> np.ndarray:
    f = OneEuroFilter(min_cutoff, beta, freq=FPS)
    out = np.full_like(z, np.nan)
    for i, p in enumerate(z):
        if np.isfinite(p).all():
            out[i] = f.update(p)
        elif i > 0:
            out[i] = out[i - 1]
    return out


def tuned_one_euro(z, truth, width, cuts, moving, reference, skip=0) -> dict:
    best = fallback = None
    for mc in (0.1, 0.2, 0.4, 0.7, 1.0, 1.5, 2.0, 3.0, 5.0):
        for b in (0.0, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3):
            m = measure(run_one_euro(z, mc, b / width * 100), truth, width, cuts, moving, reference, skip)
            if m.get("lag", 0.0) <= 1.0 and (best is None or m["jitter"] < best["jitter"]):
                best = m
            if fallback is None or m.get("lag", 0.0) < fallback.get("lag", 0.0):
                fallback = m
    return best or fallback


def _fmt(v: float, p: int = 2) -> str:
    return "-" if not np.isfinite(v) else f"{v:.{p}f}"


def synthetic_table(seeds: int = 3) -> None:
    print("| scenario | raw jitter % W | offline jitter cut (min) | offline abs lag (max) | offline RMSE / raw (max) "
          "| offline worst % W (max) | fixed-lag 3 / offline jitter (max) | causal jitter cut (min) | causal lag (max) "
          "| causal / One Euro jitter (max) |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for name in SCENARIOS:
        rows = []
        for seed in range(seeds):
            sc = scenario(name, seed=seed)
            z = rigid_noise(sc["truth"], 0.015 * sc["width"], np.random.default_rng(500 + 10 * seed + SCENARIOS.index(name)))
            z[sc["miss"]] = np.nan
            cuts = () if sc["cut"] is None else (sc["cut"],)
            moving = sc["ramp"] if sc["ramp"].any() else None
            args = (sc["truth"], sc["width"], cuts, moving, None, 10)
            raw = measure(z, *args)
            o, f, c = (measure(stabilize_track(z, mode=m), *args) for m in MODES)
            oe = tuned_one_euro(z, *args)
            rows.append((raw["jitter"], raw["jitter"] / o["jitter"], abs(o.get("lag", np.nan)), o["rmse"] / raw["rmse"],
                         o["worst"], f["jitter"] / o["jitter"], raw["jitter"] / c["jitter"], c.get("lag", np.nan),
                         c["jitter"] / oe["jitter"]))
        a = np.array(rows)
        print(f"| {name} | {a[:, 0].mean():.2f} | {a[:, 1].min():.1f} | {_fmt(np.max(a[:, 2]))} | {a[:, 3].max():.2f} "
              f"| {a[:, 4].max():.2f} | {a[:, 5].max():.2f} | {a[:, 6].min():.1f} | {_fmt(np.max(a[:, 7]))} "
              f"| {a[:, 8].max():.2f} |")


def real_table(folder: str) -> None:
    rows = []
    for path in sorted(glob.glob(os.path.join(folder, "*.npz"))):
        d = np.load(path)
        truth, z, width = d["truth"], d["detected"], float(d["face_width"])
        cuts = [int(c) for c in d["cuts"]]
        speed = np.sqrt((np.gradient(truth, axis=0) ** 2).sum(-1)).mean(1) / width
        moving = speed > 0.003
        raw = measure(z, truth, width, cuts)
        res = {m: measure(stabilize_track(z, mode=m), truth, width, cuts, moving, z) for m in MODES}
        oe = tuned_one_euro(z, truth, width, cuts, moving, z)
        rows.append(dict(scen=os.path.basename(path).split("_")[0], raw=raw, oe=oe, **res))
    print("| scenario | clips | raw jitter % F (median) | offline: jitter cut (min / median) | offline max abs lag, frames "
          "| offline RMSE < raw | offline worst % F (median / max) | fixed-lag 3 jitter / offline (median / max) "
          "| causal: jitter cut (min / median) | causal max lag, frames | causal / One Euro jitter (median / max) "
          "| One Euro lag (median) |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for scen in sorted({r["scen"] for r in rows}):
        rs = [r for r in rows if r["scen"] == scen]

        def col(mode, key):
            return np.array([r[mode].get(key, np.nan) for r in rs])

        raw = col("raw", "jitter")
        off_x, ca_x = raw / col("offline", "jitter"), raw / col("causal", "jitter")
        fl = col("fixed_lag", "jitter") / col("offline", "jitter")
        lag_o, lag_c, lag_oe = col("offline", "lag"), col("causal", "lag"), col("oe", "lag")
        moving = np.isfinite(lag_oe).any()
        coe = col("causal", "jitter") / col("oe", "jitter")
        worst = col("offline", "worst")
        better = int(np.sum(col("offline", "rmse") < col("raw", "rmse")))
        print(f"| {scen} | {len(rs)} | {np.median(raw):.2f} | {off_x.min():.1f} / {np.median(off_x):.1f} "
              f"| {_fmt(np.nanmax(np.abs(lag_o)) if moving else np.nan)} | {better}/{len(rs)} "
              f"| {np.median(worst):.2f} / {worst.max():.2f} | {np.median(fl):.2f} / {fl.max():.2f} "
              f"| {ca_x.min():.1f} / {np.median(ca_x):.1f} | {_fmt(np.nanmax(lag_c) if moving else np.nan)} | "
              + (f"{np.median(coe):.2f} / {coe.max():.2f} | {np.nanmedian(lag_oe):.2f} |" if moving
                 else "- (no motion: lag undefined) | - |"))


def nod_bias_table(folder: str) -> None:
    """Offline worst frame of the fast nod (frames 20-80; per-frame RMS over the 5 points, % F, the
    real benchmark's metric), against the truth and against the truth plus the detector's constant
    per-clip offset of each point (median over the clip of (detected - truth) / F, times F): the
    part of the error no temporal filter can remove. Frontal photos only (not the cameraman)."""
    from ffaccel.stability import _realdata as rd

    rows = []
    for path in sorted(glob.glob(os.path.join(folder, "nod_*.npz"))):
        if path.endswith("_camera.npz"):
            continue
        d = np.load(path)
        truth, z = d["truth"].astype(np.float64), d["detected"].astype(np.float64)
        fw = rd.face_width(truth)[:, None, None]
        ok = np.all(np.isfinite(z), axis=(1, 2))
        bias = np.median(((z - truth) / fw)[ok], axis=0)
        out = stabilize_track(z)
        nod = slice(20, 80)
        rows.append((os.path.basename(path)[:-4], rd.worst(out, truth, nod), rd.worst(out, truth + bias * fw, nod),
                     rd.worst(z, truth, nod), 100 * float(np.sqrt(np.mean(np.sum(bias**2, -1))))))
    print("| nod clip | offline worst % F | offline worst net of the detector's constant bias % F | raw worst % F "
          "| detector constant bias, RMS over points % F |")
    print("|---|---|---|---|---|")
    for r in rows:
        print(f"| {r[0]} | {r[1]:.2f} | {r[2]:.2f} | {r[3]:.2f} | {r[4]:.2f} |")
    a = np.array([r[1:] for r in rows])
    print(f"| median / max | {np.median(a[:, 0]):.2f} / {a[:, 0].max():.2f} | {np.median(a[:, 1]):.2f} / {a[:, 1].max():.2f} "
          f"| {np.median(a[:, 2]):.2f} / {a[:, 2].max():.2f} | {np.median(a[:, 3]):.2f} / {a[:, 3].max():.2f} |")


def lag_check_table(folder: str) -> None:
    """Max |lag| per scenario, two metrics: this script's regression -(e . v) / |v|^2 (against the
    detections, against the truth) and the real benchmark's time-shift fit with the clip's constant
    bias removed (``_realdata.lag``; NaN where the truth moves at constant velocity). The raw
    detections have no filter lag, so what the metrics read on them is the metric's own error."""
    from ffaccel.stability import _realdata as rd

    print("| scenario | offline, regression vs detections | offline, regression vs truth | raw detections, regression vs truth "
          "| offline, time-shift fit (real benchmark) | raw detections, time-shift fit |")
    print("|---|---|---|---|---|---|")
    for scen in ("slow", "shaky", "nod", "turn", "zoom"):
        rows = []
        for path in sorted(glob.glob(os.path.join(folder, f"{scen}_*.npz"))):
            if path.endswith("_camera.npz"):
                continue
            d = np.load(path)
            truth, z, width = d["truth"].astype(np.float64), d["detected"].astype(np.float64), float(d["face_width"])
            moving = np.sqrt((np.gradient(truth, axis=0) ** 2).sum(-1)).mean(1) / width > 0.003
            out = stabilize_track(z)
            rows.append([measure(out, truth, width, (), moving, z).get("lag", np.nan),
                         measure(out, truth, width, (), moving, truth).get("lag", np.nan),
                         measure(z, truth, width, (), moving, truth).get("lag", np.nan), rd.lag(out, truth), rd.lag(z, truth)])
        a = np.abs(np.array(rows))
        print(f"| {scen} | " + " | ".join(_fmt(np.nanmax(a[:, k])) if np.isfinite(a[:, k]).any() else "undefined" for k in range(5)) + " |")


def cost() -> None:
    sc = scenario("fast_nod", frames=1000)
    z = rigid_noise(sc["truth"], 1.5, np.random.default_rng(1))

    def cpu(f, n=5):
        ts = []
        for _ in range(n):
            t0 = time.process_time()
            f()
            ts.append(time.process_time() - t0)
        return float(np.median(ts))

    print(f"offline: {cpu(lambda: stabilize_track(z)) * 1e3:.2f} ms CPU per 1000 frames (5 points, median of 5)")
    # (causal: stabilize_track runs LandmarkStabilizer, compiled when _core has StabCausal; --cost-causal compares)
    for mode in ("causal", "fixed_lag"):
        print(f"{mode}: {cpu(lambda: stabilize_track(z, mode=mode), 3) / len(z) * 1e6:.1f} us CPU per face per frame")


def cost_offline(repeats: int = 40) -> None:
    """Offline CPU time against the numpy pipeline it replaced (tests/stability_offline_reference.py:
    main's offline steps before they moved to _core), interleaved in this process, medians."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from stability_offline_reference import stabilize_offline_reference

    sc = scenario("fast_nod", frames=1000)
    z = rigid_noise(sc["truth"], 1.5, np.random.default_rng(1))
    load0 = os.getloadavg()[0]
    ref, new = [], []
    for _ in range(repeats):
        for f, acc in ((stabilize_offline_reference, ref), (stabilize_track, new)):
            t0 = time.process_time()
            f(z)
            acc.append(time.process_time() - t0)
    r, n = float(np.median(ref)), float(np.median(new))
    print(f"offline, 1000-frame fast nod (5 points), CPU ms, median of {repeats} interleaved runs "
          f"(load average {load0:.1f}-{os.getloadavg()[0]:.1f}): numpy pipeline {r * 1e3:.2f} "
          f"(min {min(ref) * 1e3:.2f}), stabilize_track {n * 1e3:.2f} (min {min(new) * 1e3:.2f}); {r / n:.1f}x")


def cost_causal(repeats: int = 21) -> None:
    """Causal ``LandmarkStabilizer.update`` CPU time per face per frame: the Python reference
    (stabilizer.py) against the compiled path (_core.StabCausal), interleaved in this process, medians."""
    from ffaccel.stability import LandmarkStabilizer

    class _Python(LandmarkStabilizer):
        _compiled = False

    if LandmarkStabilizer(mode="causal")._core is None:
        print("causal: this build of _core has no StabCausal (Python path only)")
        return
    load0 = os.getloadavg()[0]
    for n_pts, stamped in ((5, False), (5, True), (68, False)):
        sc = scenario("fast_nod", frames=1000)
        z = rigid_noise(sc["truth"], 1.5, np.random.default_rng(1))
        if n_pts == 68:  # the same motion carried by 68 points (a dlib-style layout, here random)
            shape = np.random.default_rng(2).uniform(-1, 1, (68, 2)) * np.ptp(z[0], axis=0)
            z = z.mean(axis=1, keepdims=True) + shape[None] + np.random.default_rng(3).normal(0, 1.0, (len(z), 68, 2))
        frames = [np.ascontiguousarray(f) for f in z]
        stamps = (np.arange(len(frames)) / FPS).tolist() if stamped else [None] * len(frames)
        times = {"python": [], "compiled": []}
        for _ in range(repeats):
            for name, cls in (("python", _Python), ("compiled", LandmarkStabilizer)):
                st = cls(mode="causal")
                t0 = time.process_time()
                for f, t in zip(frames, stamps):
                    st.update(f, t)
                times[name].append((time.process_time() - t0) / len(frames))
        py, c = float(np.median(times["python"])), float(np.median(times["compiled"]))
        print(f"causal update(), {n_pts} points{', timestamps' if stamped else ''}, 1000-frame fast nod, CPU us per face per frame, median of {repeats} "
              f"interleaved runs (load average {load0:.1f}-{os.getloadavg()[0]:.1f}): Python {py * 1e6:.1f} "
              f"(min {min(times['python']) * 1e6:.1f}), compiled {c * 1e6:.1f} (min {min(times['compiled']) * 1e6:.1f}); "
              f"{py / c:.1f}x")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--real", metavar="DIR", default=os.environ.get("FFACCEL_REAL_TRACKS"))
    ap.add_argument("--cost", action="store_true")
    ap.add_argument("--cost-offline", action="store_true",
                    help="only the offline CPU time against the numpy pipeline it replaced, interleaved")
    ap.add_argument("--lag-check", metavar="DIR", default=None, help="only the lag-metric comparison on real tracks")
    ap.add_argument("--nod-bias", metavar="DIR", default=None, help="only the fast-nod worst-frame table, net of the detector's bias")
    ap.add_argument("--cost-causal", action="store_true",
                    help="only the causal update() CPU time, Python against the compiled path, interleaved")
    args = ap.parse_args()
    if args.cost_causal:
        cost_causal()
        return
    if args.cost_offline:
        cost_offline()
        return
    if args.nod_bias or args.lag_check:
        if args.nod_bias:
            nod_bias_table(args.nod_bias)
        if args.lag_check:
            lag_check_table(args.lag_check)
        return
    synthetic_table()
    if args.real:
        print()
        real_table(args.real)
    if args.cost:
        print()
        cost()


if __name__ == "__main__":
    main()
