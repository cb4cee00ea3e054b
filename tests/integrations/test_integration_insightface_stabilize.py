"""The insightface adapter's optional stabilisation: KpsStabilizer and install(stabilize=...)."""

from __future__ import annotations

import numpy as np
import pytest

from ffaccel.integrations.insightface_stabilize import KpsStabilizer
from ffaccel.stability import OneEuroFilter


def _faces(rng, n_frames, noise):
    base = np.array([[40.0, 50], [80, 50], [60, 70], [45, 90], [75, 90]]) + 200
    for _ in range(n_frames):
        kps = base + rng.normal(0, noise, base.shape)
        yield {"bbox": np.array([180.0, 180, 300, 320]), "kps": kps.astype(np.float32)}


@pytest.mark.parametrize("factory", [None, OneEuroFilter])
def test_update_smooths_a_jittery_static_face(factory):
    rng = np.random.default_rng(0)
    st = KpsStabilizer(filter_factory=factory)
    raw, smooth = [], []
    for face in _faces(rng, 60, noise=1.5):
        st.update([face])
        assert face["ffaccel_kps"].shape == (5, 2) and face["ffaccel_kps"].dtype == np.float32
        raw.append(face["kps"])
        smooth.append(face["ffaccel_kps"])
    raw, smooth = np.array(raw[10:]), np.array(smooth[10:])
    assert np.std(np.diff(smooth, axis=0)) < 0.6 * np.std(np.diff(raw, axis=0))


def test_two_faces_keep_their_own_tracks():
    st = KpsStabilizer()
    a = {"bbox": np.array([0.0, 0, 100, 100]), "kps": np.full((5, 2), 50.0)}
    b = {"bbox": np.array([500.0, 0, 600, 100]), "kps": np.full((5, 2), 550.0)}
    for _ in range(5):
        fa, fb = dict(a), dict(b)
        st.update([fa, fb])
    np.testing.assert_allclose(fa["ffaccel_kps"], a["kps"], atol=1e-6)
    np.testing.assert_allclose(fb["ffaccel_kps"], b["kps"], atol=1e-6)


def test_kps_for_uses_update_result_else_smooths_per_call():
    st = KpsStabilizer()
    face = {"bbox": np.array([0.0, 0, 100, 100]), "kps": np.full((5, 2), 50.0)}
    face["ffaccel_kps"] = np.full((5, 2), 7.0)
    np.testing.assert_array_equal(st.kps_for(None, face), np.full((5, 2), 7.0))
    other = {"bbox": np.array([0.0, 0, 100, 100]), "kps": np.full((5, 2), 50.0)}
    assert st.kps_for(None, other).shape == (5, 2)


@pytest.mark.filterwarnings("ignore::FutureWarning")
def test_installed_stabilizer_aligns_with_the_smoothed_points(tmp_path):
    pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    pytest.importorskip("insightface.model_zoo.inswapper")
    import insightface_fake as fk

    import ffaccel.integrations.insightface as ffi
    from ffaccel.ops.paste_insightface import insightface_generation

    try:
        insightface_generation()
    except ValueError:
        pytest.skip("the installed OpenCV is not reproduced")
    swapper = fk.load_swapper(fk.build_model(tmp_path / "inswapper_128.onnx"))
    rng = np.random.default_rng(1)
    img = rng.integers(0, 256, (480, 640, 3), np.uint8)
    face = fk.target_face((320.0, 240.0), 200.0, 10.0)
    smoothed = face.kps + np.float32(1.25)
    # stock get() aligned on the smoothed points ...
    shifted = fk.target_face((320.0, 240.0), 200.0, 10.0)
    shifted.kps = smoothed
    stock = swapper.get(img, shifted, fk.source_face(), paste_back=True)
    # ... equals the installed adapter given those points by its stabiliser
    st = KpsStabilizer()
    face["ffaccel_kps"] = smoothed
    try:
        assert ffi.install(stabilize=st)
        assert ffi.installed_options()["stabilize"] is st
        ours = swapper.get(img, face, fk.source_face(), paste_back=True)
    finally:
        ffi.uninstall()
    np.testing.assert_array_equal(ours, stock)

