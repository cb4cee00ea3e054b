"""The CPU thread pool (kernels/cpu/parallel.{h,cpp}): how a job is split never changes a byte.

The pool runs a job on the caller's thread, on some of its threads or on all of them,
depending on the job's estimated work, the thread count (FFACCEL_NUM_THREADS) and the
grain (FFACCEL_POOL_GRAIN_US; 0 splits every job over every thread). Both are read once
per process, so each setting runs in a child process; every CPU op, on small inputs (run
inline by default) and large ones (split), must give the same bytes under each. The
suite's other tests use small inputs that now run on the caller's thread, so the pool's
own paths (busy pool, fork) are driven here with the grain at 0.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

_OPS = r'''
import hashlib, json, sys
import numpy as np
import ffaccel
from ffaccel import _core
from insightface_reference import face_matrix

out = {}
def put(name, res):
    res = res if isinstance(res, tuple) else (res,)
    h = hashlib.sha256()
    for r in res:
        h.update(np.ascontiguousarray(r).tobytes() if isinstance(r, np.ndarray) else repr(r).encode())
    out[name] = h.hexdigest()

for size in (40, 300):
    rng = np.random.default_rng(size)
    frame = rng.integers(0, 256, (size, size + 20, 3), dtype=np.uint8)
    crop = rng.integers(0, 256, (size // 2, size // 2, 3), dtype=np.uint8)
    mask = np.clip(rng.random((size // 2, size // 2)) * 1.4 - 0.2, 0, 1).astype(np.float32)
    big = np.clip(rng.random(frame.shape[:2]) * 1.4 - 0.2, 0, 1).astype(np.float32)
    lin = rng.random(frame.shape).astype(np.float32)
    m = np.array([[0.45, -0.1, size * 0.1], [0.1, 0.45, size * 0.05]])  # frame -> crop, inside the frame
    put(f"warp u8 {size}", ffaccel.warp_affine(frame, m, (size // 2, size // 2)))
    put(f"warp f32 c1 {size}", ffaccel.warp_affine(lin[..., 0].copy(), m, (size // 2, size // 2), compat="opencv4"))
    put(f"warp batch {size}", ffaccel.warp_affine_batch(frame, np.stack([m, m * 1.01]), (size // 2, size // 2)))
    put(f"paste {size}", ffaccel.paste_back(frame, crop, mask, m))
    put(f"paste inplace {size}", ffaccel.paste_back(frame.copy(), crop, mask, m, inplace=True))
    put(f"paste multiband {size}", ffaccel.paste_back(frame, crop, mask, m, blend="multiband", levels=3))
    fm = face_matrix((frame.shape[1] / 2, frame.shape[0] / 2), size * 0.4, 20.0)
    put(f"insightface {size}", ffaccel.paste_back_insightface(frame, crop, fm, compat="insightface-opencv5"))
    put(f"feather {size}", ffaccel.feather_mask(big, 3.0))
    put(f"composite {size}", ffaccel.composite(frame, frame[::-1].copy(), big))
    put(f"srgb_to_linear {size}", ffaccel.srgb_to_linear(frame))
    put(f"linear_to_srgb {size}", ffaccel.linear_to_srgb(lin, dtype=np.uint8))
    put(f"linear_to_srgb f32 {size}", ffaccel.linear_to_srgb(lin))
    put(f"gain {size}", ffaccel.apply_color_gain_linear(frame, (1.2, 0.8, 1.0)))
    put(f"gain mask {size}", ffaccel.apply_color_gain_linear(frame, (1.2, 0.8, 1.0), mask=big))
    put(f"hysteresis {size}", ffaccel.mask_hysteresis(big, big[::-1].copy(), t_in=0.1, t_out=0.1))
    put(f"seam_ring {size}", ffaccel.seam_ring(big, 0.1, 0.9))
    put(f"boundary {size}", ffaccel.boundary_blend(frame, big, 3))
    put(f"color_transfer {size}", ffaccel.color_transfer(crop, crop[::-1].copy(), mask, "mkl"))
    put(f"box_mask {size}", ffaccel.box_mask(size, 0.3, 5))
print(json.dumps({"threads": _core.build_info()["cpu_threads"], "digests": out}))
'''

# (FFACCEL_NUM_THREADS, FFACCEL_POOL_GRAIN_US or None for the default)
_SETTINGS = [("1", None), ("3", "0"), ("16", None), ("16", "5"), ("7", "1000000")]


def _child_env(threads: str, grain: str | None) -> dict[str, str]:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p), FFACCEL_NUM_THREADS=threads)
    env.pop("FFACCEL_POOL_GRAIN_US", None)
    if grain is not None:
        env["FFACCEL_POOL_GRAIN_US"] = grain
    return env


def _run(script: str, threads: str, grain: str | None) -> str:
    res = subprocess.run([sys.executable, "-c", script], env=_child_env(threads, grain), capture_output=True,
                         text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    return res.stdout


def test_every_split_gives_the_same_bytes():
    """1 thread; 3 threads splitting every job; 16 threads at the default grain (small jobs
    inline, large ones on some threads); 16 threads at a 5 us grain (most jobs on part of
    the pool); 7 threads whose grain keeps everything inline."""
    runs = {}
    for threads, grain in _SETTINGS:
        got = json.loads(_run(_OPS, threads, grain).splitlines()[-1])
        assert got["threads"] == int(threads)
        runs[(threads, grain)] = got["digests"]
    want = runs[_SETTINGS[0]]
    assert len(want) == 38
    for setting, digests in runs.items():
        assert digests == want, (setting, sorted(k for k in want if digests.get(k) != want[k]))


def test_concurrent_callers_with_every_job_on_the_pool():
    """test_threads.py's 16 Python threads, with every job split over the pool (grain 0),
    so calls meet a busy pool and run on their own thread."""
    script = "import test_threads\ntest_threads.test_sixteen_threads_match_serial_bytes()\nprint('ok')\n"
    assert _run(script, "4", "0").split()[-1] == "ok"


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_forked_child_gets_a_working_pool():
    """A child forked after the pool started has none of its threads: it must start its own,
    not wait for threads that do not exist (a hang would hit the timeout)."""
    script = r'''
import os, sys
import numpy as np
import ffaccel
f = np.random.default_rng(0).integers(0, 256, (300, 320, 3), dtype=np.uint8)
m = np.array([[0.9, 0.1, 2.0], [-0.1, 0.9, 3.0]])
want = ffaccel.warp_affine(f, m, (256, 256)).tobytes()
pid = os.fork()
if pid == 0:
    os._exit(0 if ffaccel.warp_affine(f, m, (256, 256)).tobytes() == want else 1)
_, status = os.waitpid(pid, 0)
print("ok" if os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0 else f"child status {status}")
'''
    assert _run(script, "4", "0").split()[-1] == "ok"
