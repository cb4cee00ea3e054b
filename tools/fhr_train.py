"""Train the "fhr" sub-pixel refiner and write ``fhr_weights.npz``.

Run from the repository root: ``python -m tools.fhr_train [--out PATH] [--samples N]``
(default ``--out``: this checkout's ``src/ffaccel/stability/fhr_weights.npz``).
Needs torch (CPU is enough, a few minutes on 2 cores); ffaccel itself never
imports torch at run time. Everything is seeded (numpy data, torch init and
shuffling, one thread), so the same torch version reproduces the same weights.

The network matches ``ffaccel.stability.subpixel.fhr_offsets``: input (2, 7, 7) = the patch
around the heatmap's argmax divided by its centre value, and the log of that;
three valid 3x3 convolutions with ReLU (2->16->32->32 channels, 7x7 -> 1x1);
a linear head to the (dx, dy) offset from the argmax pixel. Loss: smooth L1
on the offset. Weights are stored as float16 (about 28 KB).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from ffaccel.stability.subpixel import FHR_PATCH, extract_patches, fhr_features
from tools.synth_heatmaps import synthetic_heatmaps

SEED = 20240611
#: Where the weights live in this checkout (the wheel packages them from there).
FHR_WEIGHTS_PATH = Path(__file__).resolve().parents[1] / "src" / "ffaccel" / "stability" / "fhr_weights.npz"


def make_dataset(samples: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(samples, 2, 7, 7) features and (samples, 2) target offsets."""
    rng = np.random.default_rng(seed)
    feats, targets = [], []
    chunk = 5000
    for start in range(0, samples, chunk):
        maps, centre = synthetic_heatmaps(min(chunk, samples - start), rng)
        flat = maps.reshape(len(maps), -1).argmax(axis=1)
        py, px = np.divmod(flat, maps.shape[2])
        peaks = np.stack([px, py], axis=1)
        feats.append(fhr_features(extract_patches(maps, peaks, FHR_PATCH)))
        targets.append((centre - peaks).astype(np.float32))
    return np.concatenate(feats), np.concatenate(targets)


def build_model():  # noqa: ANN201 - torch is imported lazily
    import torch.nn as nn

    class FHR(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv1 = nn.Conv2d(2, 16, 3)
            self.conv2 = nn.Conv2d(16, 32, 3)
            self.conv3 = nn.Conv2d(32, 32, 3)
            self.head = nn.Linear(32, 2)

        def forward(self, x):  # noqa: ANN001, ANN202
            x = self.conv1(x).relu()
            x = self.conv2(x).relu()
            x = self.conv3(x).relu()
            return self.head(x.flatten(1))

    return FHR()


def train(samples: int = 300_000, epochs: int = 14, out: Path = FHR_WEIGHTS_PATH, seed: int = SEED) -> float:
    """Train and save; returns the RMSE (px) on a held-out seeded set."""
    import torch

    torch.manual_seed(seed)
    torch.set_num_threads(1)
    x, y = make_dataset(samples, seed)
    keep = np.all(np.abs(y) <= 2.5, axis=1)  # a neighbour won the argmax: nothing to learn in the patch
    x, y = torch.from_numpy(x[keep]), torch.from_numpy(y[keep])
    model = build_model()
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    batch = 512
    steps = epochs * ((len(x) + batch - 1) // batch)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=3e-3, total_steps=steps)
    gen = torch.Generator().manual_seed(seed)
    for epoch in range(epochs):
        perm = torch.randperm(len(x), generator=gen)
        total = 0.0
        for i in range(0, len(x), batch):
            idx = perm[i : i + batch]
            loss = torch.nn.functional.smooth_l1_loss(model(x[idx]), y[idx], beta=0.1)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total += loss.item() * len(idx)
        print(f"epoch {epoch + 1}/{epochs} loss {total / len(x):.5f}", flush=True)
    weights = {k: v.detach().numpy().astype(np.float16) for k, v in model.state_dict().items()}
    np.savez_compressed(out, **weights)
    xv, yv = make_dataset(20_000, seed + 1)
    with torch.no_grad():
        pred = model(torch.from_numpy(xv)).numpy()
    rmse = float(np.sqrt(np.mean(np.sum((pred - yv) ** 2, axis=1))))
    print(f"held-out RMSE {rmse:.4f} px; wrote {out} ({out.stat().st_size} bytes)")
    return rmse


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=FHR_WEIGHTS_PATH)
    parser.add_argument("--samples", type=int, default=300_000)
    parser.add_argument("--epochs", type=int, default=14)
    args = parser.parse_args()
    train(args.samples, args.epochs, args.out)


if __name__ == "__main__":
    main()
