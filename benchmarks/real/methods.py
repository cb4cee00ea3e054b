"""The stabilisation methods the real-detector benchmark compares, on (T, 5, 2) tracks.

Causal filters of today (``OneEuroFilter``, ``TemporalSmoother``) cannot take a missed
frame: the harness holds their last output there and does not update them (what a live
pipeline does). The new ``stabilize_track`` takes NaN rows itself.
"""

from __future__ import annotations

import inspect
import time

import numpy as np

from ffaccel.stability import OneEuroFilter, TemporalSmoother, smooth_track
from ffaccel.stability import _realdata as rd
from ffaccel.stability._face import similarity_fit

# One Euro grid: min_cutoff in Hz; beta in 1/F (divided by the clip's median face width in
# px before use, so one grid serves every scale).
GRID_CUTOFF = (0.05, 0.1, 0.2, 0.4, 0.7, 1.0, 1.5, 2.0, 3.0, 5.0)
GRID_BETA_F = (0.0, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0)
TUNE_SCENARIOS = ("still", "slow_pan", "shaky", "nod", "turn", "zoom")


def run_causal(factory, detected: np.ndarray) -> np.ndarray:
    flt = factory()
    out = np.full_like(detected, np.nan)
    last = None
    for i, z in enumerate(detected):
        if np.all(np.isfinite(z)):
            last = flt.update(z)
        if last is not None:
            out[i] = last
    return out


def stabilize_available():
    try:
        from ffaccel.stability import stabilize_track
    except ImportError:
        return None
    return stabilize_track


def adapter_smooth(detected: np.ndarray) -> np.ndarray:
    """What the FaceFusion adapter's plan does: link faces into tracks, smooth_track each."""
    from ffaccel.integrations.facefusion_stabilize import StabilizeOptions, StabilizePlan

    faces = {f: [{"lm": detected[f].copy()}] for f in range(len(detected)) if np.all(np.isfinite(detected[f]))}
    plan = StabilizePlan.build(faces, StabilizeOptions())
    out = np.full_like(detected, np.nan)
    for f, rows in plan.rows.items():
        out[f] = rows[0]["smooth"]
    return out


def insightface_live(detected: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """What the insightface adapter's live stabilisation does (``install(stabilize=True)``;
    Deep-Live-Cam, roop): a ``KpsStabilizer`` given each frame's face (its box and 5 points),
    or no face on a missed frame; the face's smoothed points, NaN on a missed frame (the host
    swaps no face its detector missed, as FaceFusion's adapter row). A face the tracker does
    not match to the last frame's (a jump to another object, a cut) gets a track of its own."""
    from ffaccel.integrations.insightface_stabilize import KpsStabilizer

    st = KpsStabilizer()
    out = np.full_like(detected, np.nan)
    for i, (z, box) in enumerate(zip(detected, boxes)):
        if np.all(np.isfinite(z)):
            face = {"bbox": box, "kps": z}
            st.update([face])
            out[i] = face["ffaccel_kps"]
        else:
            st.update([])
    return out


def methods(one_euro: dict) -> dict:
    """name -> (kind, fn(detected, clip) -> output); one_euro maps (res, face) -> (min_cutoff, beta_F)."""

    def oe(det, clip):
        mc, bf = one_euro[(clip["res"], clip["face_px"])]
        beta = bf / float(np.median(rd.face_width(clip["truth"])))
        return run_causal(lambda: OneEuroFilter(mc, beta), det)

    out = {
        "raw": ("raw", lambda det, clip: det.copy()),
        "one_euro_tuned": ("causal", oe),
        "temporal_smoother": ("causal", lambda det, clip: run_causal(TemporalSmoother, det)),
        "smooth_track": ("offline", lambda det, clip: smooth_track(det)),
        "facefusion_adapter": ("offline", lambda det, clip: adapter_smooth(det)),
    }
    st = stabilize_available()
    if st is not None:
        out["stabilize_offline"] = ("offline", lambda det, clip: st(det, mode="offline"))
        if "end_frames" in inspect.signature(st).parameters:  # the offline mode without its end step
            out["stabilize_offline_no_end"] = ("offline", lambda det, clip: st(det, mode="offline", end_frames=0))
        out["stabilize_fixed_lag3"] = ("fixed_lag", lambda det, clip: st(det, mode="fixed_lag", lag=3))
        out["stabilize_causal"] = ("causal", lambda det, clip: st(det, mode="causal"))
        out["stabilize_offline_guarded"] = ("offline", lambda det, clip: guard_tail(st(det, mode="offline")))
        out["stabilize_causal_guarded"] = ("causal", lambda det, clip: guard_tail(st(det, mode="causal")))
        out["insightface_live"] = ("causal", lambda det, clip: insightface_live(det, clip["boxes"]))
    return out


def tune_one_euro(clips_by_combo: dict) -> dict:
    """Per (res, face): least mean jitter over TUNE_SCENARIOS with mean lag <= 1 frame."""
    chosen = {}
    for combo, items in clips_by_combo.items():
        items = [c for c in items if c["scenario"] in TUNE_SCENARIOS]
        best = fallback = None
        for mc in GRID_CUTOFF:
            for bf in GRID_BETA_F:
                jit, lags = [], []
                for c in items:
                    beta = bf / float(np.median(rd.face_width(c["truth"])))
                    o = run_causal(lambda: OneEuroFilter(mc, beta), c["detected"])
                    jit.append(rd.jitter(o, c["truth"], c["cuts"]))
                    lg = rd.lag(o, c["truth"], c["cuts"])
                    if np.isfinite(lg):
                        lags.append(lg)
                j, lg = float(np.nanmean(jit)), float(np.mean(lags)) if lags else 0.0
                if lg <= 1.0 and (best is None or j < best[0]):
                    best = (j, lg, (mc, bf))
                if fallback is None or lg < fallback[1]:
                    fallback = (j, lg, (mc, bf))
        pick = best or fallback
        chosen[combo] = {"min_cutoff": pick[2][0], "beta_F": pick[2][1], "jitter": pick[0], "lag": pick[1],
                         "met_lag_budget": best is not None}
    return chosen


def tune_one_euro_cached(clips_by_combo: dict, cache) -> dict:
    """``tune_one_euro``, cached in ``cache`` under a hash of the clips' cache keys, the grid and this file."""
    import hashlib
    import json
    from pathlib import Path

    blob = json.dumps([sorted(c["key"] for items in clips_by_combo.values() for c in items), GRID_CUTOFF,
                       GRID_BETA_F, TUNE_SCENARIOS, Path(__file__).read_text(), Path(rd.__file__).read_text()])
    path = Path(cache) / f"one_euro_{hashlib.sha1(blob.encode()).hexdigest()[:12]}.json"
    if path.exists():
        raw = json.loads(path.read_text())
        return {tuple(v["combo"]): v["pick"] for v in raw}
    chosen = tune_one_euro(clips_by_combo)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps([{"combo": list(k), "pick": v} for k, v in chosen.items()]))
    return chosen


def ping_pong(track: np.ndarray, frames: int) -> np.ndarray:
    """A continuous long track from a short one: forward, backward, forward..."""
    reps = [track if k % 2 == 0 else track[::-1] for k in range(frames // len(track) + 1)]
    return np.concatenate(reps)[:frames]


def timing(name: str, kind: str, fn, detected: np.ndarray, clip: dict, repeats: int = 5) -> dict:
    """Median CPU time of this process (``time.process_time``: other processes' load on a shared
    machine does not count) of one call on a 1000-frame track (offline) or on its detected
    frames (the others): us per face per frame, which is the same number as ms per 1000 frames."""
    long = ping_pong(np.where(np.isfinite(detected), detected, np.nan), 1000)
    clip = dict(clip, boxes=ping_pong(clip["boxes"], 1000)) if "boxes" in clip else clip
    if kind != "offline":
        keep = np.all(np.isfinite(long), axis=(1, 2))
        long = long[keep][:1000]
        if "boxes" in clip:
            clip["boxes"] = clip["boxes"][keep][:1000]
    times = []
    for _ in range(repeats):
        t0 = time.process_time()
        fn(long, clip)
        times.append(time.process_time() - t0)
    med = float(np.median(times))
    return {"frames": len(long), "us_per_frame": 1e6 * med / len(long), "ms_per_1000": 1e3 * med * 1000 / len(long)}


# End-of-sequence guard on a stabilised track (what a file pipeline can add for the last frames):
# the aligned crop's matrix (ArcFace 5-point template, GUARD_CROP px) goes through
# EndOfSequenceGuard in the last GUARD_TAIL frames, with quanta relative to the crop: the 2x2
# part's quantum is GUARD_Q_LIN times its scale at the tail's first frame (scale-free), the
# translation's GUARD_Q_PX crop pixels; the points then move with the guarded crop.
GUARD_TAIL = rd.TAIL
GUARD_CROP = 256.0
GUARD_Q_LIN = 1.0 / 128
GUARD_Q_PX = 1.0


def guard_tail(out: np.ndarray) -> np.ndarray:
    from ffaccel.stability import EndOfSequenceGuard

    t_len = len(out)
    res = out.copy()
    template = rd.ARCFACE_112 * GUARD_CROP / 112.0
    guard = None
    for i in range(t_len - GUARD_TAIL, t_len):
        if not np.all(np.isfinite(out[i])):
            guard = None  # (a new guard at the next detection)
            continue
        m = similarity_fit(out[i], template)
        if guard is None:
            scale = float(np.sqrt(abs(np.linalg.det(m[:, :2]))))
            guard = EndOfSequenceGuard(tail_frames=t_len - i, total_frames=t_len, quant_rotation=GUARD_Q_LIN * scale,
                                       quant_translation=GUARD_Q_PX, anchor=(GUARD_CROP / 2, GUARD_CROP / 2))
        mg, _ = guard.update(m, i)
        h = np.linalg.solve(np.vstack([mg, [0.0, 0.0, 1.0]]), np.vstack([m, [0.0, 0.0, 1.0]]))
        res[i] = out[i] @ h[:2, :2].T + h[:2, 2]
    return res
