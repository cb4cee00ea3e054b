"""Rebuild ``faces.npz``, the two face photographs that ship inside the package.

The demo reads its faces from ``ffaccel/demo/faces.npz`` so that it needs numpy only.
This script made that file, from the two photos it was cut from:

- target: scikit-image's ``astronaut`` (Eileen Collins, NASA photograph, public domain:
  a work of the US federal government), ``skimage.data.astronaut()``;
- source: matplotlib's sample ``grace_hopper.jpg`` (Grace Hopper, US Navy photograph,
  public domain: a work of the US federal government),
  ``matplotlib.cbook.get_sample_data("grace_hopper.jpg")``, decoded by
  ``matplotlib.image.imread`` (Pillow).

Each photo is cropped, never rescaled, to the box in :data:`ffaccel.demo.clip.TARGET_CROP`
and :data:`ffaccel.demo.clip.SOURCE_CROP`, so that the hand-annotated landmarks stay
exact (they shift by the box's corner). The arrays are stored RGB, uint8, with
``np.savez_compressed``; keys ``target`` and ``source``.

Usage, from the repository root (needs scikit-image and matplotlib, i.e.
``pip install "ffaccel[demo]" scikit-image``)::

    python -m tools.make_faces                 # rewrites src/ffaccel/demo/faces.npz of this checkout
    python -m tools.make_faces other/path.npz  # writes elsewhere
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from ffaccel.demo.clip import SOURCE_CROP, TARGET_CROP

#: The packaged file in this checkout (the wheel ships it from there).
FACES_PATH = Path(__file__).resolve().parents[1] / "src" / "ffaccel" / "demo" / "faces.npz"

__all__ = ["original_faces", "shipped_faces_from_originals", "main"]


def original_faces() -> tuple[np.ndarray, np.ndarray]:
    """(astronaut, grace_hopper) as RGB uint8, read from scikit-image and matplotlib."""
    import matplotlib.cbook
    import matplotlib.image
    import skimage.data

    target = np.asarray(skimage.data.astronaut(), np.uint8)
    path = matplotlib.cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)
    source = np.asarray(matplotlib.image.imread(str(path)))
    if source.dtype != np.uint8 or source.ndim != 3 or source.shape[2] != 3:
        raise ValueError(f"unexpected grace_hopper.jpg decoding: {source.dtype} {source.shape}")
    return target, source


def _cut(image: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    top, left, height, width = box
    if top < 0 or left < 0 or top + height > image.shape[0] or left + width > image.shape[1]:
        raise ValueError(f"crop box {box} outside the {image.shape[1]}x{image.shape[0]} photo")
    return np.ascontiguousarray(image[top:top + height, left:left + width])


def shipped_faces_from_originals() -> dict[str, np.ndarray]:
    """The arrays that ``faces.npz`` holds: ``target`` and ``source``, RGB uint8 crops."""
    target, source = original_faces()
    return {"target": _cut(target, TARGET_CROP), "source": _cut(source, SOURCE_CROP)}


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    out = Path(args[0]) if args else FACES_PATH
    faces = shipped_faces_from_originals()
    np.savez_compressed(out, target=faces["target"], source=faces["source"])
    print(f"wrote {out} ({out.stat().st_size // 1024} KiB): "
          + ", ".join(f"{k} {v.shape[1]}x{v.shape[0]}" for k, v in faces.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
