"""Hypothesis strategies shared by the op tests: images, matrices, borders."""

from __future__ import annotations

import os

import numpy as np
from hypothesis import strategies as st


@st.composite
def affine_matrices(draw, max_offset: float = 400.0) -> np.ndarray:
    """Rotation, log-uniform scale 0.1-8, shear and translation: faces partly or wholly off-image too."""
    angle = draw(st.floats(-np.pi, np.pi))
    scale = float(np.exp(draw(st.floats(np.log(0.1), np.log(8.0)))))
    shear = draw(st.floats(-0.5, 0.5))
    aspect = draw(st.floats(0.7, 1.4))
    tx = draw(st.floats(-max_offset, max_offset))
    ty = draw(st.floats(-max_offset, max_offset))
    c, s = np.cos(angle) * scale, np.sin(angle) * scale
    return np.array([[c * aspect, -s + shear * c, tx], [s * aspect, c + shear * s, ty]])


@st.composite
def images(draw, dtypes=(np.uint8, np.float32), channels=(1, 3, 4), max_side: int = 96) -> np.ndarray:
    dtype = draw(st.sampled_from(dtypes))
    allowed = [c for c in channels if not (dtype == np.float32 and c == 4)]
    c = draw(st.sampled_from(allowed))
    h = draw(st.integers(1, max_side))
    w = draw(st.integers(1, max_side))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    if dtype == np.uint8:
        img = rng.integers(0, 256, (h, w, c), dtype=np.uint8)
    else:
        img = (rng.random((h, w, c)) * 255).astype(np.float32)
    if c == 1 and draw(st.booleans()):
        img = img[..., 0].copy()
    return img


dsizes = st.tuples(st.integers(1, 80), st.integers(1, 80))
borders = st.sampled_from(["replicate", "constant"])
border_values = st.one_of(st.integers(0, 255).map(float), st.floats(-20.0, 300.0))
compat_modes = st.sampled_from([None, "opencv5.0", "opencv4"])


def examples(n: int) -> int:
    """Hypothesis example count, scaled by FFACCEL_EXAMPLES_SCALE (e.g. 0.1 under compute-sanitizer)."""
    return max(1, int(n * float(os.environ.get("FFACCEL_EXAMPLES_SCALE", "1"))))
