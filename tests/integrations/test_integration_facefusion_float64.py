"""FaceFusion adapter with float64 crops, as FaceFusion's default swapper produces them.

FaceFusion's ``normalize_crop_frame`` de-normalises hyperswap (3.3+'s default), ghost,
hififace and uniface outputs with Python-list mean and standard deviation, so the crop
that reaches ``paste_back`` is float64 (found by the end-to-end run,
tests/integrations/test_integration_facefusion_e2e.py). Exact mode pastes them with stock's
arithmetic (FaceFusion's paste area, OpenCV's warps, the fused float64 blend of
test_integration_facefusion_blend.py), handing out-of-range ones to stock; fast mode blends
them in float32; stabilisation still records and
applies colour gains and masks for them.
"""

from __future__ import annotations

import importlib

import facefusion_fake
import numpy as np
import pytest

import ffaccel.integrations.facefusion as ffa
from ffaccel.integrations.facefusion import Recorder, StabilizeOptions

SWAPPER = "facefusion.processors.modules.face_swapper.core"


def _float64_model(crop):
    """hyperswap-like: model output in -1..1, de-normalised with Python lists (float64), 0..255 BGR."""
    rgb = crop[:, :, ::-1].astype(np.float32) / 127.5 - 1.0
    out = (0.8 * rgb + 0.1).astype(np.float32)
    out = out * [0.5, 0.5, 0.5] + [0.5, 0.5, 0.5]
    return out.clip(0, 1)[:, :, ::-1] * 255


@pytest.fixture()
def ff(tmp_path, monkeypatch):
    facefusion_fake.put_on_path(tmp_path, monkeypatch)
    helper = importlib.import_module("facefusion.face_helper")
    masker = importlib.import_module("facefusion.face_masker")
    swapper = importlib.import_module(SWAPPER)
    workflow = importlib.import_module("facefusion.workflows.core")
    monkeypatch.setattr(swapper, "fake_model", _float64_model)
    yield type("FF", (), {"helper": helper, "masker": masker, "swapper": swapper, "workflow": workflow})
    ffa.uninstall()
    facefusion_fake.drop_modules()


def _clip(n=12, seed=0):
    rng = np.random.default_rng(seed)
    h, w = 360, 640
    yy, xx = np.mgrid[0:h, 0:w]
    base = np.array([[-30.0, -20], [30, -20], [0, 5], [-22, 30], [22, 30]])
    frames, faces = [], []
    for t in range(n):
        img = np.sin((xx + 3 * t) / 13.0)[..., None] * 50 + np.cos(yy / 19.0)[..., None] * 50 + 128
        frames.append(np.clip(img + rng.integers(-20, 20, (h, w, 3)), 0, 255).astype(np.uint8))
        faces.append([base * 1.6 + [250 + 2.0 * t, 170] + rng.normal(0, 1.5, (5, 2))])
    return frames, faces


def _stock_swap(ff, frame, landmarks):
    return ff.swapper.swap_face(frame.copy(), landmarks)


def test_the_model_stand_in_gives_float64_crops(ff):
    crop = np.zeros((8, 8, 3), np.uint8)
    assert ff.swapper.fake_model(crop).dtype == np.float64


def test_exact_mode_pastes_float64_crops_with_stock_bytes(ff):
    frames, faces = _clip(4)
    stock = [_stock_swap(ff, f, faces[t][0]) for t, f in enumerate(frames)]
    ffa.install(mode="exact")
    got = [_stock_swap(ff, f, faces[t][0]) for t, f in enumerate(frames)]
    assert all(np.array_equal(a, b) for a, b in zip(stock, got))
    assert ffa.installed_options()["fallbacks"] == 0  # every paste went through ffaccel's float64 path


def test_exact_mode_float64_out_of_range_goes_to_stock(ff):
    frames, faces = _clip(2)
    ffa.install(mode="exact")
    ff.swapper.fake_model = lambda crop: _float64_model(crop) * 1.5 - 60.0  # values below 0 and above 255
    ff.swapper.swap_face(frames[0].copy(), faces[0][0])
    assert ffa.installed_options()["fallbacks"] == 1


def test_fast_mode_pastes_float64_crops_itself(ff):
    frames, faces = _clip(4)
    stock = [_stock_swap(ff, f, faces[t][0]) for t, f in enumerate(frames)]
    ffa.install(mode="fast")
    got = [_stock_swap(ff, f, faces[t][0]) for t, f in enumerate(frames)]
    assert ffa.installed_options()["fallbacks"] == 0
    for a, b in zip(stock, got):
        assert np.abs(a.astype(int) - b.astype(int)).max() <= 2


def test_stabilisation_records_and_applies_float64_pastes(ff):
    frames, faces = _clip()
    stock = [ff.workflow.process_temp_frame(faces[t], frames[t].copy(), t) for t in range(len(frames))]
    rec = Recorder()
    ffa.install(stabilize=StabilizeOptions(record=rec))
    recorded = [ff.workflow.process_temp_frame(faces[t], frames[t].copy(), t) for t in range(len(frames))]
    assert all(np.array_equal(a, b) for a, b in zip(stock, recorded)), "recording must not change output"
    plan = rec.plan()
    row = plan.row(5, 0)
    assert list(row["gains"]) == [SWAPPER] and list(row["prev_mask"]) == [SWAPPER]
    ffa.uninstall()
    # colour and mask filters act on top of landmark smoothing: off vs on differ
    ffa.install(stabilize=StabilizeOptions(plan=plan, color=False, mask=False))
    landmarks_only = [ff.workflow.process_temp_frame(faces[t], frames[t].copy(), t) for t in range(len(frames))]
    ffa.uninstall()
    ffa.install(stabilize=StabilizeOptions(plan=plan))
    full = [ff.workflow.process_temp_frame(faces[t], frames[t].copy(), t) for t in range(len(frames))]
    assert any(not np.array_equal(a, b) for a, b in zip(landmarks_only, full))
