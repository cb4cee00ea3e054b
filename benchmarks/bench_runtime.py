"""Benchmark ffaccel.runtime: eager vs CUDA-graph vs batched(8)+graph on a stand-in swapper.

Workload: a stand-in for a 128-px face swapper (random weights): a 1x3x128x128 float
image in [0, 1] and a 1x512 identity embedding go in, a 1x3x128x128 image in [-1, 1]
comes out. It encodes to 32x32, runs ``--blocks`` residual blocks whose channels are
modulated by the embedding (scale and shift from a linear layer, as in AdaIN-style
swappers), and decodes back to 128x128.

Modes, each timed with CUDA events, medians over ``--iters`` calls:

* ``eager``          : ``net(x, emb)`` at batch 1.
* ``graph``          : ``CudaGraphRunner(net)(x, emb)`` at batch 1 (copy-in, replay, clone).
* ``batched8_eager`` : 8 faces through ``BatchProcessor(net, max_batch=8)`` (context row).
* ``batched8_graph`` : 8 faces through ``BatchProcessor(CudaGraphRunner(net), max_batch=8)``.

Latency is per call (sync before, event before and after, wait): for the batched modes a
call is one batch of 8, which is also the latency a face in that batch sees. Throughput
is measured separately, calls issued back to back between two events, median of
``--rounds`` rounds. Goals (issue 6): graph >= 2x eager at batch 1, batched8_graph >= 4x
eager in faces per second; the script reports whether this run met them.

Usage (on a GPU machine)::

    PYTHONPATH=src python benchmarks/bench_runtime.py --json bench_runtime.json
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
from typing import Any, Callable

import torch
from torch import nn

from ffaccel.runtime import BatchProcessor, CudaGraphRunner

DEVICE = "cuda"


class StandInSwapper(nn.Module):
    """(N, 3, 128, 128) float image + (N, 512) embedding -> (N, 3, 128, 128) in [-1, 1]."""

    def __init__(self, base: int = 32, blocks: int = 4, seed: int = 0) -> None:
        super().__init__()
        torch.manual_seed(seed)
        c1, c2, c3 = base, 2 * base, 4 * base
        self.enc = nn.Sequential(
            nn.Conv2d(3, c1, 3, padding=1), nn.LeakyReLU(0.2),
            nn.Conv2d(c1, c2, 4, stride=2, padding=1), nn.LeakyReLU(0.2),  # 64x64
            nn.Conv2d(c2, c3, 4, stride=2, padding=1), nn.LeakyReLU(0.2),  # 32x32
        )
        self.convs = nn.ModuleList(nn.Conv2d(c3, c3, 3, padding=1) for _ in range(2 * blocks))
        self.styles = nn.ModuleList(nn.Linear(512, 2 * c3) for _ in range(2 * blocks))
        self.dec = nn.Sequential(
            nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(c3, c2, 3, padding=1), nn.LeakyReLU(0.2),
            nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(c2, c1, 3, padding=1), nn.LeakyReLU(0.2),
            nn.Conv2d(c1, 3, 3, padding=1), nn.Tanh(),
        )

    def _modulate(self, h: torch.Tensor, emb: torch.Tensor, i: int) -> torch.Tensor:
        scale, shift = self.styles[i](emb).chunk(2, dim=1)
        h = self.convs[i](h)
        h = h * (1 + scale[:, :, None, None]) + shift[:, :, None, None]
        return torch.relu(h)

    def forward(self, x: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        h = self.enc(x)
        for b in range(len(self.convs) // 2):
            h = h + self._modulate(self._modulate(h, emb, 2 * b), emb, 2 * b + 1)
        return self.dec(h)


def time_latency(call: Callable[[], Any], iters: int) -> list[float]:
    """Per-call latency in ms: sync, event, call, event, wait; ``iters`` samples."""
    times = []
    for _ in range(iters):
        torch.cuda.synchronize()
        start = torch.cuda.Event(enable_timing=True)
        end = torch.cuda.Event(enable_timing=True)
        start.record()
        call()
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end))
    return times


def time_throughput(call: Callable[[], Any], iters: int, rounds: int) -> list[float]:
    """Per-call time in ms with calls issued back to back; one value per round."""
    per_call = []
    for _ in range(rounds):
        torch.cuda.synchronize()
        start = torch.cuda.Event(enable_timing=True)
        end = torch.cuda.Event(enable_timing=True)
        start.record()
        for _ in range(iters):
            call()
        end.record()
        end.synchronize()
        per_call.append(start.elapsed_time(end) / iters)
    return per_call


def build_modes(
    net: nn.Module, dtype: torch.dtype, batch: int, checks: dict[str, Any]
) -> dict[str, tuple[int, Callable[[], Any]]]:
    """Mode name -> (faces per call, zero-argument callable); fills ``checks`` with the
    exactness and capture checks (graph output == eager output, graphs captured)."""
    dev = DEVICE
    x1 = torch.rand(1, 3, 128, 128, device=dev, dtype=dtype)
    e1 = torch.randn(1, 512, device=dev, dtype=dtype)
    crops = [torch.rand(3, 128, 128, device=dev, dtype=dtype) for _ in range(batch)]
    embs = [torch.randn(512, device=dev, dtype=dtype) for _ in range(batch)]
    graph1 = CudaGraphRunner(net, max_bucket=batch)
    graphb = CudaGraphRunner(net, max_bucket=batch)
    bp_eager = BatchProcessor(net, max_batch=batch)
    bp_graph = BatchProcessor(graphb, max_batch=batch)

    def batched(bp: BatchProcessor) -> Callable[[], Any]:
        def call() -> Any:
            out: list[Any] = []
            for i in range(batch):
                out += bp.submit(i, (crops[i], embs[i]))
            assert len(out) == batch
            return out

        return call

    # correctness first: the graph must reproduce eager exactly at the same batch size
    with torch.no_grad():
        checks["graph_equals_eager_b1"] = torch.equal(graph1(x1, e1), net(x1, e1))
        xb, eb = torch.stack(crops), torch.stack(embs)
        checks[f"graph_equals_eager_b{batch}"] = torch.equal(graphb(xb, eb), net(xb, eb))
    checks["graphs_captured"] = all(
        r.stats["captures"] == 1 and r.stats["eager_calls"] == 0 for r in (graph1, graphb)
    )
    for name, ok in checks.items():
        if not ok:
            print(f"WARNING: check {name} failed", file=sys.stderr)
    return {
        "eager": (1, lambda: net(x1, e1)),
        "graph": (1, lambda: graph1(x1, e1)),
        f"batched{batch}_eager": (batch, batched(bp_eager)),
        f"batched{batch}_graph": (batch, batched(bp_graph)),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--iters", type=int, default=300, help="timed calls per mode (default 300)")
    ap.add_argument("--warmup", type=int, default=30, help="untimed calls per mode first (default 30)")
    ap.add_argument("--rounds", type=int, default=7, help="throughput rounds per mode (default 7)")
    ap.add_argument("--batch", type=int, default=8, help="faces per batch (default 8)")
    ap.add_argument("--base", type=int, default=32, help="channels of the first conv; 4x at 32x32 (default 32)")
    ap.add_argument("--blocks", type=int, default=4, help="modulated residual blocks (default 4)")
    ap.add_argument("--dtype", choices=["float32", "float16"], default="float32")
    ap.add_argument("--json", help="write the results to this JSON file")
    args = ap.parse_args(argv)
    for name in ("iters", "warmup", "rounds", "batch", "base", "blocks"):
        if getattr(args, name) < 1:
            ap.error(f"--{name} must be >= 1")
    if not torch.cuda.is_available():
        print("bench_runtime: no CUDA device; nothing to measure", file=sys.stderr)
        return 2

    dtype = getattr(torch, args.dtype)
    net = StandInSwapper(args.base, args.blocks).to(DEVICE, dtype).eval()
    results: dict[str, dict[str, float]] = {}
    checks: dict[str, Any] = {}
    with torch.no_grad():
        modes = build_modes(net, dtype, args.batch, checks)
        for name, (faces, call) in modes.items():
            for _ in range(args.warmup):
                call()
            lat = time_latency(call, args.iters)
            thr = time_throughput(call, args.iters, args.rounds)
            per_call = statistics.median(thr)
            results[name] = {
                "faces_per_call": faces,
                "latency_ms_median": statistics.median(lat),
                "latency_ms_p90": sorted(lat)[int(0.9 * (len(lat) - 1))],
                "ms_per_face": per_call / faces,
                "faces_per_s": 1000.0 * faces / per_call,
            }

    eager = results["eager"]
    bg = results[f"batched{args.batch}_graph"]
    bkey = f"batched{args.batch}_graph_vs_eager_faces_per_s"
    ratios = {
        "graph_vs_eager_latency_b1": eager["latency_ms_median"] / results["graph"]["latency_ms_median"],
        "graph_vs_eager_faces_per_s_b1": results["graph"]["faces_per_s"] / eager["faces_per_s"],
        bkey: bg["faces_per_s"] / eager["faces_per_s"],
    }
    goals = {
        "graph >= 2x eager at batch 1 (latency)": ratios["graph_vs_eager_latency_b1"] >= 2.0,
        f"batched{args.batch}+graph >= 4x eager (faces/s)": ratios[bkey] >= 4.0,
    }
    n_params = sum(p.numel() for p in net.parameters())
    config = {
        "device": torch.cuda.get_device_name(),
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "python": platform.python_version(),
        "dtype": args.dtype,
        "base": args.base,
        "blocks": args.blocks,
        "params": n_params,
        "batch": args.batch,
        "iters": args.iters,
        "rounds": args.rounds,
        "tf32_cudnn": bool(torch.backends.cudnn.allow_tf32),
        "cudnn_benchmark": bool(torch.backends.cudnn.benchmark),
    }

    print(f"bench_runtime on {config['device']} (torch {config['torch']}, CUDA {config['cuda']}), {args.dtype}, "
          f"stand-in swapper base={args.base} blocks={args.blocks} ({n_params / 1e6:.2f} M params)")
    head = f"{'mode':<18}{'faces/call':>11}{'latency ms':>12}{'p90 ms':>9}{'ms/face':>10}{'faces/s':>11}{'x eager':>9}"
    print(head)
    print("-" * len(head))
    for name, r in results.items():
        print(f"{name:<18}{r['faces_per_call']:>11d}{r['latency_ms_median']:>12.3f}{r['latency_ms_p90']:>9.3f}"
              f"{r['ms_per_face']:>10.3f}{r['faces_per_s']:>11.0f}{r['faces_per_s'] / eager['faces_per_s']:>9.2f}")
    print()
    for k, v in ratios.items():
        print(f"{k:<44} {v:6.2f}x")
    for k, ok in goals.items():
        print(f"goal {k:<44} {'met' if ok else 'NOT met'}")
    for k, ok in checks.items():
        print(f"check {k:<43} {'ok' if ok else 'FAILED'}")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(
                {"config": config, "results": results, "ratios": ratios, "goals": goals, "checks": checks},
                fh, indent=2,
            )
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
