"""refine_heatmap_landmarks: conventions, methods, fhr weights and accuracy."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ffaccel.stability import refine_heatmap_landmarks
from tools.synth_heatmaps import synthetic_heatmaps
from ffaccel.stability.subpixel import FHR_WEIGHTS_PATH, _fhr_weights

# Measured on this fixed set (seed 11, 1500 heatmaps); docs/results/stability_synthetic.md has
# the 4000-heatmap benchmark figures. Recomputed here, not copied: these bound them.
FHR_RMSE_BOUND = 0.16  # measured 0.151 with the shipped weights


def _gauss(cx, cy, s=1.5, size=64):
    yy, xx = np.mgrid[0:size, 0:size]
    return np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * s * s))


def test_weights_ship_small_and_load_without_torch():
    assert FHR_WEIGHTS_PATH.stat().st_size <= 50 * 1024
    w = _fhr_weights()
    params = sum(v.size for v in w.values())
    assert params * 2 <= 50 * 1024  # float16 storage
    assert w["conv3.weight"].shape == (32, 32, 3, 3)


@settings(max_examples=30, deadline=None)
@given(st.floats(3, 60), st.floats(3, 60), st.floats(0.9, 2.5))
def test_dark_is_exact_on_clean_gaussians_and_argmax_is_the_peak_pixel(cx, cy, s):
    hm = _gauss(cx, cy, s)[None, None]
    xy, score = refine_heatmap_landmarks(hm, "dark")
    assert np.allclose(xy[0, 0], [cx, cy], atol=0.01)
    am, _ = refine_heatmap_landmarks(hm, "argmax")
    assert np.array_equal(am[0, 0], np.round(am[0, 0])) and np.abs(am[0, 0] - [cx, cy]).max() <= 0.5 + 1e-9
    assert score[0, 0] == pytest.approx(hm.max())


def test_quarter_shifts_toward_higher_neighbour():
    xy, _ = refine_heatmap_landmarks(_gauss(20.3, 40.8)[None, None], "quarter")
    assert np.allclose(xy[0, 0], [20.25, 40.75])


def test_convention_integer_is_pixel_centre():
    hm = np.zeros((1, 1, 8, 8))
    hm[0, 0, 2, 5] = 1.0  # row 2, column 5
    for method in ("argmax", "quarter", "dark", "fhr"):
        xy, _ = refine_heatmap_landmarks(hm, method)
        assert np.allclose(xy[0, 0], [5.0, 2.0], atol=0.3), method


def test_fhr_beats_dark_by_the_goal_margin_on_fixed_synthetic_set():
    maps, centre = synthetic_heatmaps(1500, np.random.default_rng(11))
    rmse = {}
    for method in ("dark", "fhr", "argmax"):
        xy, _ = refine_heatmap_landmarks(maps[:, None], method)
        rmse[method] = np.sqrt(np.mean(np.sum((xy[:, 0] - centre) ** 2, axis=1)))
    assert rmse["fhr"] <= FHR_RMSE_BOUND
    assert rmse["fhr"] <= 0.6 * rmse["dark"]  # issue 4 goal
    assert rmse["dark"] < rmse["argmax"]


def test_numpy_inference_matches_torch_model():
    torch = pytest.importorskip("torch")
    from tools.fhr_train import build_model, make_dataset
    from ffaccel.stability.subpixel import fhr_offsets

    model = build_model()
    model.load_state_dict({k: torch.from_numpy(v) for k, v in _fhr_weights().items()})
    feats, _ = make_dataset(500, 3)
    with torch.no_grad():
        want = model(torch.from_numpy(feats)).numpy()
    assert np.abs(fhr_offsets(feats) - want).max() < 1e-5


def test_batch_shape_and_border_peaks():
    maps, centre = synthetic_heatmaps(6, np.random.default_rng(2))
    hm = maps.reshape(2, 3, 64, 64)
    for method in ("fhr", "dark", "quarter", "argmax"):
        xy, sc = refine_heatmap_landmarks(hm, method)
        assert xy.shape == (2, 3, 2) and sc.shape == (2, 3) and np.isfinite(xy).all()
    corner = _gauss(0.2, 63.0)[None, None]
    for method in ("fhr", "dark"):
        xy, _ = refine_heatmap_landmarks(corner, method)
        assert np.abs(xy[0, 0] - [0.2, 63.0]).max() < 1.0


@pytest.mark.parametrize(
    "hm, kwargs, exc, word",
    [
        (np.zeros((68, 64, 64)), {}, ValueError, "heatmaps"),
        (np.zeros((1, 1, 2, 64)), {}, ValueError, "heatmaps"),
        (np.full((1, 1, 8, 8), np.nan), {}, ValueError, "heatmaps"),
        (np.zeros((1, 1, 8, 8), dtype=bool), {}, TypeError, "heatmaps"),
        (np.zeros((1, 1, 8, 8)), {"method": "soft"}, ValueError, "method"),
    ],
)
def test_errors(hm, kwargs, exc, word):
    with pytest.raises(exc, match=word):
        refine_heatmap_landmarks(hm, **kwargs)
