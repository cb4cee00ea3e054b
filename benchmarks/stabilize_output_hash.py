"""One SHA-256 over ffaccel.stabilize_track's output bytes on real-detector tracks: the check that
a speed change to the stabiliser left its output unchanged (run it before and after, or with
FFACCEL_CPU_BASELINE=1 for the baseline CPU build, and compare the printed digests).

    python3 benchmarks/stabilize_output_hash.py                 # the tracks in tests/data/real_tracks
    python3 benchmarks/stabilize_output_hash.py TRACKS_DIR ...  # and every .npz in these folders
                                                                 # (bench_stability_real.py --export)

Per track (the ``detected`` key, float64), in file-name order: offline, causal and fixed-lag
output, then offline on the track followed by itself reversed and itself again (three times
the length, so the period and the long-track paths are hashed too). Prints the number of
tracks, the CPU build in use, the digest of all of it, that of the offline parts alone, and those
of the causal and the fixed-lag outputs alone (so a change to one mode can be checked to leave the
others' bytes as they were).
"""

from __future__ import annotations

import hashlib
import os
import sys
from pathlib import Path

import numpy as np

import ffaccel

HERE = Path(__file__).resolve().parent


def main(argv: list[str]) -> None:
    folders = [Path(a) for a in argv] + [HERE.parent / "tests" / "data" / "real_tracks"]
    files = sorted({f for d in folders for f in d.glob("*.npz")}, key=lambda f: (f.parent.as_posix(), f.name))
    every, offline = hashlib.sha256(), hashlib.sha256()
    streaming = {"causal": hashlib.sha256(), "fixed_lag": hashlib.sha256()}
    count = 0
    for f in files:
        with np.load(f) as d:
            if "detected" not in d:
                continue
            z = d["detected"].astype(np.float64)
        count += 1
        for mode in ("offline", "causal", "fixed_lag"):
            b = np.ascontiguousarray(ffaccel.stabilize_track(z, mode=mode)).tobytes()
            every.update(b)
            (offline if mode == "offline" else streaming[mode]).update(b)
        b = np.ascontiguousarray(ffaccel.stabilize_track(np.concatenate([z, z[::-1], z]))).tobytes()
        every.update(b)
        offline.update(b)
    build = "baseline" if os.environ.get("FFACCEL_CPU_BASELINE", "0") not in ("", "0") else "best available"
    print(f"{count} tracks, CPU build: {build}; all: {every.hexdigest()}; offline: {offline.hexdigest()}; "
          f"causal: {streaming['causal'].hexdigest()}; fixed-lag: {streaming['fixed_lag'].hexdigest()}")


if __name__ == "__main__":
    main(sys.argv[1:])
