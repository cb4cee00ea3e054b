"""Timing helpers shared by the benchmark scripts: medians, tables, JSON."""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from collections.abc import Callable
from typing import Any


def cpu_median_ms(fn: Callable[[], Any], runs: int, warmup: int = 5,
                  clock: Callable[[], float] = time.perf_counter) -> float:
    """Median of ``clock`` around each call, in ms: wall time by default; ``time.process_time``
    (all threads' CPU time) or ``time.thread_time`` where other users' load would swamp wall time."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(runs):
        t0 = clock()
        fn()
        times.append((clock() - t0) * 1e3)
    return statistics.median(times)


def arguments(doc: str | None, cpu_runs: int | None) -> argparse.ArgumentParser:
    """The options the peer benchmarks share: ``--runs`` (GPU calls per median),
    ``--cpu-runs`` (CPU calls per median; not added where ``cpu_runs`` is None) and
    ``--json`` (where to save the results). A script adds its own after."""
    ap = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=200)
    if cpu_runs is not None:
        ap.add_argument("--cpu-runs", type=int, default=cpu_runs)
    ap.add_argument("--json", default=None)
    return ap


def cuda_median_ms(fn: Callable[[], Any], runs: int, warmup: int = 20) -> float:
    """Median of CUDA-event timings around each Python call (launch cost included)."""
    import torch

    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    pairs = [(torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)) for _ in range(runs)]
    for start, end in pairs:
        start.record()
        fn()
        end.record()
    torch.cuda.synchronize()
    return statistics.median(s.elapsed_time(e) for s, e in pairs)


def cuda_pipelined_ms(fn: Callable[[], Any], calls: int, warmup: int = 20) -> float:
    """Time per call of ``calls`` back-to-back calls of ``fn()`` between two CUDA events
    (no synchronisation between them): what a loop of calls costs once host and device
    overlap, the larger of the host's time per call and the device's."""
    import torch

    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    start.record()
    for _ in range(calls):
        fn()
    end.record()
    end.synchronize()
    return start.elapsed_time(end) / calls


def cuda_torch() -> Any:
    """The torch module when it imports and sees a CUDA device, else None (the GPU rows are skipped)."""
    try:
        import torch
    except Exception:  # not installed, or a broken install: CPU rows only
        return None
    return torch if torch.cuda.is_available() else None


def machine() -> dict[str, Any]:
    info: dict[str, Any] = {"cpu": platform.processor() or platform.machine(), "python": platform.python_version()}
    try:
        import os

        info["cpu_count"] = os.cpu_count()
    except Exception:
        pass
    try:
        import torch

        if torch.cuda.is_available():
            info["gpu"] = torch.cuda.get_device_name(0)
    except Exception:
        pass
    return info


def print_table(title: str, rows: list[dict[str, Any]], columns: list[str]) -> str:
    widths = [max(len(c), *(len(_fmt(r.get(c))) for r in rows)) for c in columns]
    lines = [title, "  ".join(c.ljust(w) for c, w in zip(columns, widths))]
    lines.append("  ".join("-" * w for w in widths))
    for r in rows:
        lines.append("  ".join(_fmt(r.get(c)).ljust(w) for c, w in zip(columns, widths)))
    text = "\n".join(lines)
    print(text)
    return text


def _fmt(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def save_json(path: str | None, payload: dict[str, Any]) -> None:
    if path:
        with open(path, "w") as f:
            json.dump(payload, f, indent=2)


def face_matrix(cx: float, cy: float, face_px: float, angle: float, crop: int = 512):
    """A frame -> crop matrix putting a face of ``face_px`` pixels centred at (cx, cy),
    rotated by ``angle`` radians, into a ``crop`` x ``crop`` crop (FaceFusion-like)."""
    import numpy as np

    s = crop / face_px
    c, n = s * np.cos(angle), s * np.sin(angle)
    return np.array([[c, -n, crop / 2 - (c * cx - n * cy)], [n, c, crop / 2 - (n * cx + c * cy)]])


def face_matrices(n: int, crop: int = 512):
    """n faces of ~420 px spread over a 1080p frame, rotated up to +-0.35 rad."""
    import numpy as np

    out = [face_matrix(260 + 1400 * (i / max(n - 1, 1)), 420 + 240 * (i % 2), 420, -0.35 + 0.7 * i / max(n - 1, 1), crop)
           for i in range(n)]
    return np.stack(out)


def captured_graph(fn: Callable[[], Any], calls: int = 1, warmups: int = 1) -> Any:
    """A torch CUDA graph of ``calls`` calls of ``fn()``, captured after ``warmups`` calls on a
    side stream (torch's recipe), ready to ``replay()``."""
    import torch

    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        for _ in range(warmups):
            fn()
    torch.cuda.current_stream().wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        for _ in range(calls):
            fn()
    return graph


def cuda_graph_per_call_ms(fn: Callable[[], Any], calls: int = 20, runs: int = 50) -> float:
    """Device time of one ``fn()`` without Python: ``calls`` calls captured in one CUDA
    graph, the graph replayed ``runs`` times, median replay time / ``calls``."""
    graph = captured_graph(fn, calls, warmups=3)
    return cuda_median_ms(graph.replay, runs, warmup=5) / calls
