"""Where the offline stabiliser's CPU time goes: stabilize_track(mode="offline") on a 1,000-frame,
5-point fast nod, and each of its compiled stages called alone (issue 13's cost goal: under
1 ms per 1,000 frames on one core).

    PYTHONPATH=src python3 benchmarks/bench_stabilize_offline_cost.py
    PYTHONPATH=src python3 benchmarks/bench_stabilize_offline_cost.py --baseline OTHER/src

Times are the CPU time of the calling thread (time.thread_time_ns), medians (and minima) of
interleaved repeats, with the load average printed beside them: on a shared machine only
figures of one run compare. ``--baseline`` times a second ffaccel in the same process,
interleaved with this one: OTHER/src is another checkout's src folder holding its built
``_core`` extension, which must have been built with nanobind's ``NB_DOMAIN`` option set (add
``NB_DOMAIN <name>`` to ``nanobind_add_module`` in that checkout's CMakeLists.txt), or the two
extensions' types clash. Stages the baseline lacks print as "-".

Stages: cuts (``_core.stab_cuts``), rigid split (``stab_rigid``), glitch test
(``stab_outliers``), noise level (``stab_noise_variance``), level bank (``stab_bank``, on the
padded period), points (``stab_points``); "clean shot" is the one-call chain of the last five
(``stab_offline_clean``), and "stabilize_track" the whole public call, Python included;
"stabilize_track, end_frames=0" is that call without the end step (the same call for a build
that has no end step), and "end step" ``stability._ends.straighten_end`` alone on the end of
that call's output (its last rows restored before each call).
"""

from __future__ import annotations

import argparse
import inspect
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_stabilize import rigid_noise, scenario  # noqa: E402


def _load(src: str | None):
    """(stabilize_track, _core, stabilize module, _bank, _cuts) of this build (src None), or of
    the ffaccel under ``src``, imported beside this one: this build's modules are set aside
    while it loads and put back after (the baseline's functions keep their own modules)."""
    if src is None:
        from ffaccel import _core
        from ffaccel.stability import _bank, _cuts, stabilize_track
        from ffaccel.stability import stabilize as mod
        return stabilize_track, _core, mod, _bank, _cuts
    mine = {k: sys.modules.pop(k) for k in list(sys.modules) if k == "ffaccel" or k.startswith("ffaccel.")}
    sys.path.insert(0, src)
    try:
        lib = _load(None)
    finally:
        sys.path.remove(src)
        for k in [k for k in sys.modules if k == "ffaccel" or k.startswith("ffaccel.")]:
            del sys.modules[k]
        sys.modules.update(mine)
    return lib


def _stages(lib, z: np.ndarray) -> dict:
    """name -> zero-argument call of each stage of ``lib`` on the track z (T, N, 2)."""
    stabilize_track, core, mod, bank, cuts = lib
    t_len, n, _ = z.shape
    c = 4 + 2 * n
    floor, low = mod._channel_limits(n)
    coef, warm = bank._recursions()
    period = bank.padded_length(t_len)
    norm = bank._noise_gains(period)
    m, ch, out = np.empty((n, 2)), np.empty((t_len, c)), np.empty_like(z)
    size = core.stab_rigid(z, m, ch)
    r = np.empty(c)
    core.stab_noise_variance(ch, np.ones(t_len, np.uint8), floor, bank._MAD_TO_SIGMA2, r)
    pad = bank._PAD
    padded = np.zeros((period, -(-c // 4) * 4))  # the period stab_bank smooths (as _bank.smooth_channels)
    body = padded[:, :c]
    body[pad:pad + t_len] = ch
    body[:pad] = 2 * ch[0] - ch[pad:0:-1]
    body[pad + t_len:t_len + 2 * pad] = 2 * ch[-1] - ch[-2:-pad - 2:-1]
    gap = period - t_len - 2 * pad
    body[t_len + 2 * pad:] = body[t_len + 2 * pad - 1] + (np.arange(1, gap + 1) / (gap + 1))[:, None] * (
        body[0] - body[t_len + 2 * pad - 1])
    sm = np.empty((t_len, c))
    ones, flags, bad, at = np.ones(t_len, np.uint8), np.empty(t_len, np.uint8), np.empty(t_len, np.uint8), np.arange(
        t_len, dtype=np.float64)
    calls = {
        "cuts": lambda: core.stab_cuts(z, ones, cuts.MOVE, cuts.ZOOM, cuts.TURN, cuts.SHAPE, flags),
        "rigid split": lambda: core.stab_rigid(z, m, ch),
        "glitch test": lambda: core.stab_outliers(ch, at, mod.OUTLIER, 3, bad),
        "noise level": lambda: core.stab_noise_variance(ch, ones, floor, bank._MAD_TO_SIGMA2, r),
        "level bank": lambda: core.stab_bank(padded, t_len, pad, bank._ENDS, coef, warm, norm, np.sqrt(r), low, 1.5, 3,
                                             5, sm),
        "points": lambda: core.stab_points(sm, m, size, out),
        "clean shot": lambda: core.stab_offline_clean(z, period, pad, mod.OUTLIER, floor, low, bank._MAD_TO_SIGMA2,
                                                      bank._ENDS, coef, warm, norm, 1.5, 3, 5, out),
        "stabilize_track": lambda: stabilize_track(z),
        "stabilize_track, end_frames=0": (lambda: stabilize_track(z, end_frames=0)) if "end_frames" in inspect.signature(
            stabilize_track).parameters else (lambda: stabilize_track(z)),
    }
    if hasattr(mod, "straighten_end"):  # the end step alone, on the last frames of the end_frames=0 output
        smooth = stabilize_track(z, end_frames=0)
        tail = smooth.copy()

        def end_step():
            tail[-2 * 13:] = smooth[-2 * 13:]  # (it works in place: the same input every time)
            mod.straighten_end(tail, z, 0, t_len, floor)

        calls["end step (straighten_end)"] = end_step
    return calls


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--baseline", metavar="SRC", default=None,
                    help="another ffaccel src folder (its _core built with NB_DOMAIN) to time in the same process")
    ap.add_argument("--repeats", type=int, default=300)
    args = ap.parse_args()
    sc = scenario("fast_nod", frames=1000)
    z = np.ascontiguousarray(rigid_noise(sc["truth"], 1.5, np.random.default_rng(1)))
    libs = {}
    this = _load(None)
    if args.baseline:
        libs["baseline"] = _load(args.baseline)
    libs["this build"] = this
    calls = {name: _stages(lib, z) for name, lib in libs.items()}
    if args.baseline:
        same = np.array_equal(libs["baseline"][0](z), libs["this build"][0](z), equal_nan=True)
        print(f"stabilize_track output equal to the baseline's: {same}")
    times = {name: {k: [] for k in calls[name]} for name in calls}
    load0 = os.getloadavg()[0]
    for _ in range(args.repeats):
        for stage in calls["this build"]:
            for name in [name for name in calls if stage in calls[name]]:
                t0 = time.thread_time_ns()
                calls[name][stage]()
                times[name][stage].append(time.thread_time_ns() - t0)
    print(f"1000-frame fast nod, 5 points; thread CPU us, median (min) of {args.repeats} interleaved repeats; "
          f"load average {load0:.1f}-{os.getloadavg()[0]:.1f}")
    names = list(calls)
    print("| stage | " + " | ".join(names) + (" | ratio |" if len(names) > 1 else ""))
    print("|---|" + "---|" * len(names) + ("---|" if len(names) > 1 else ""))
    for stage in calls["this build"]:
        cells, med = [], []
        for name in names:
            v = times[name].get(stage)
            if not v:
                cells.append("-")
                med.append(float("nan"))
                continue
            med.append(float(np.median(v)) / 1e3)
            cells.append(f"{med[-1]:.0f} ({min(v) / 1e3:.0f})")
        ratio = f" {med[0] / med[1]:.2f}x |" if len(names) > 1 else ""
        print(f"| {stage} | " + " | ".join(cells) + " |" + ratio)


if __name__ == "__main__":
    main()
