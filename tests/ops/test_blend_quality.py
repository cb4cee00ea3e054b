"""The direction of each quality result in docs/blending.md, on the fixed-seed seam case:
seam visibility (Lab gradient energy over the seam ring) and colour error (Delta E inside
the face against the scene, and against the swapped crop)."""

from __future__ import annotations

import numpy as np
import pytest

import ffaccel
from blend_cases import delta_e, face_core, face_mask_in_frame, opencv_seamless_clone, seam_case, seam_energy, seam_ring


@pytest.fixture(scope="module")
def case():
    frame, crop, mask, m = seam_case(np.random.default_rng(5))
    face = face_mask_in_frame(frame, mask, m)
    crop_in_frame = ffaccel.paste_back(frame, crop, np.ones_like(mask), m)
    return frame, crop, mask, m, face, seam_ring(face, 3), face_core(face, 8), crop_in_frame


def test_multiband_hides_the_seam_that_alpha_leaves(case):
    frame, crop, mask, m, face, ring, core, _ = case
    alpha = seam_energy(ffaccel.paste_back(frame, crop, mask, m), ring)
    multiband = seam_energy(ffaccel.paste_back(frame, crop, mask, m, blend="multiband"), ring)
    texture = seam_energy(frame, ring)  # the frame's own gradients there, no seam at all
    assert alpha > 10 * texture
    assert multiband < alpha / 10
    assert multiband < 2 * texture


def test_boundary_blend_softens_the_alpha_seam(case):
    frame, crop, mask, m, face, ring, core, _ = case
    pasted = ffaccel.paste_back(frame, crop, mask, m)
    softened = ffaccel.boundary_blend(pasted, face, 4)
    assert seam_energy(softened, ring) < 0.5 * seam_energy(pasted, ring)
    np.testing.assert_array_equal(softened[core], pasted[core])  # the face itself is untouched


def test_colour_error_ordering(case):
    frame, crop, mask, m, face, ring, core, crop_in_frame = case
    alpha = ffaccel.paste_back(frame, crop, mask, m)
    multiband = ffaccel.paste_back(frame, crop, mask, m, blend="multiband")
    ref = ffaccel.warp_affine(frame, m, crop.shape[1::-1])
    transferred = ffaccel.paste_back(frame, ffaccel.color_transfer(crop, ref, mask), mask, m)
    # against the scene (the crop's true colour is the frame's): alpha keeps the whole
    # offset, multiband lets the lowest bands take some frame colour, transfer removes it
    scene = {k: delta_e(v, frame, core) for k, v in
             {"alpha": alpha, "multiband": multiband, "transfer": transferred}.items()}
    assert scene["transfer"] < 2.0 < scene["multiband"] < scene["alpha"]
    # against the swapped crop: alpha is the crop itself inside the face
    assert delta_e(alpha, crop_in_frame, core) == 0.0
    assert delta_e(multiband, crop_in_frame, core) > 1.0


def test_seamless_clone_anchor_direction(case):
    cv2 = pytest.importorskip("cv2")
    frame, crop, mask, m, face, ring, core, crop_in_frame = case
    clone = opencv_seamless_clone(cv2, frame, crop, mask, m)
    alpha = ffaccel.paste_back(frame, crop, mask, m)
    multiband = ffaccel.paste_back(frame, crop, mask, m, blend="multiband")
    assert seam_energy(clone, ring) < seam_energy(alpha, ring) / 10
    # Poisson cloning pulls the whole face to the frame's colour: low scene error, high crop error
    assert delta_e(clone, frame, core) < delta_e(multiband, frame, core)
    assert delta_e(clone, crop_in_frame, core) > delta_e(multiband, crop_in_frame, core)
