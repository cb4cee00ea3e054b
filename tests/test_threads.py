"""16 threads calling every op on shared inputs and separate outputs give the serial bytes."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from test_hostile import NO_OUT_OPS, OUT_OPS

# compute-sanitizer's racecheck slows each launch a hundredfold: the device script runs this test
# there with fewer rounds (and, if the tool cannot follow 16 threads, fewer threads).
THREADS = int(os.environ.get("FFACCEL_TEST_THREADS", "16"))
ROUNDS = int(os.environ.get("FFACCEL_TEST_THREAD_ROUNDS", "4"))


def _bytes(res):
    if isinstance(res, tuple):
        return tuple(_bytes(r) for r in res)
    return res.tobytes() if isinstance(res, np.ndarray) else res


def _jobs():
    jobs = []
    for op, (inputs, call, shape, dtype) in OUT_OPS.items():
        jobs.append((op, inputs, lambda a, call=call, shape=shape, dtype=dtype: call(a, np.empty(shape, dtype))))
    for op, (inputs, call) in NO_OUT_OPS.items():
        jobs.append((op, inputs, call))
    return jobs


def test_sixteen_threads_match_serial_bytes():
    jobs = _jobs()
    serial = {op: _bytes(fn(dict(inputs))) for op, inputs, fn in jobs}
    work = [(op, inputs, fn) for _ in range(ROUNDS) for op, inputs, fn in jobs for _ in range(THREADS // 4)]
    with ThreadPoolExecutor(THREADS) as pool:
        results = list(pool.map(lambda j: (j[0], _bytes(j[2](j[1]))), work))
    for op, got in results:
        assert got == serial[op], op


@pytest.mark.cuda
@pytest.mark.parametrize("fw", ["cupy", "torch"])
def test_sixteen_threads_on_separate_streams_match_serial_bytes(fw):
    """Every op with a kernel, each thread on its own stream of the framework."""
    from gpu import to_gpu, to_host

    mod = pytest.importorskip(fw)
    jobs = [(op, {k: to_gpu(v, fw) for k, v in inputs.items()}, call, shape, dtype)
            for op, (inputs, call, shape, dtype) in OUT_OPS.items() if op != "boundary_blend"]

    def run(job, stream):
        op, inputs, call, shape, dtype = job
        if fw == "cupy":
            with stream:
                out = call(inputs, to_gpu(np.zeros(shape, dtype), fw))
                stream.synchronize()
        else:
            with mod.cuda.stream(stream):
                out = call(inputs, to_gpu(np.zeros(shape, dtype), fw))
                stream.synchronize()
        return op, to_host(out).tobytes()

    new_stream = (lambda: mod.cuda.Stream(non_blocking=True)) if fw == "cupy" else (lambda: mod.cuda.Stream())
    serial = dict(run(j, new_stream()) for j in jobs)
    streams = [new_stream() for _ in range(THREADS)]
    work = [(jobs[i % len(jobs)], streams[i % THREADS]) for i in range(THREADS * ROUNDS * 2)]
    with ThreadPoolExecutor(THREADS) as pool:
        for op, got in pool.map(lambda w: run(*w), work):
            assert got == serial[op], op
