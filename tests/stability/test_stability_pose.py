"""estimate_pose, PoseFilter, pose_to_similarity."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ffaccel.stability import PoseFilter, estimate_pose, pose_to_similarity
from ffaccel.stability._face import MIRROR_INDEX, five_points, project_template


@settings(max_examples=40, deadline=None)
@given(st.floats(-60, 60), st.floats(-40, 40), st.floats(-170, 170), st.floats(0.3, 5.0), st.floats(-500, 500), st.floats(-500, 500))
def test_recovers_pose_of_template(yaw, pitch, roll, scale, cx, cy):
    pose = estimate_pose(project_template(yaw, pitch, roll, scale, (cx, cy)))
    assert np.allclose(pose, [yaw, pitch, roll, scale], atol=1e-6)


@settings(max_examples=40, deadline=None)
@given(st.floats(-60, 60), st.floats(-40, 40), st.floats(-170, 170), st.floats(0.3, 5.0), st.floats(-500, 500), st.floats(-500, 500))
def test_recovers_pose_of_template_from_five_points(yaw, pitch, roll, scale, cx, cy):
    pose = estimate_pose(five_points(project_template(yaw, pitch, roll, scale, (cx, cy))))
    assert np.allclose(pose, [yaw, pitch, roll, scale], atol=1e-6)


def test_five_point_pose_agrees_with_68_point_pose_under_noise():
    rng = np.random.default_rng(3)
    pts = project_template(yaw=15, pitch=-8, roll=4, scale=2.0)
    five = five_points(pts) + rng.normal(0, 0.5, (5, 2))
    p5, p68 = estimate_pose(five), estimate_pose(pts)
    assert abs(p5[2] - p68[2]) < 1.0 and abs(p5[3] / p68[3] - 1) < 0.02  # roll and scale: well determined
    assert np.allclose(p5[:2], p68[:2], atol=6.0)  # yaw/pitch: coarse with 5 points


def test_pose_filter_takes_five_points():
    f = PoseFilter(beta=0.5, deadband=(0, 0, 0, 0))
    for _ in range(30):
        out = f.update(five_points(project_template(yaw=12, pitch=3, roll=-2, scale=1.5)))
    assert np.allclose(out, [12, 3, -2, 1.5], atol=1e-6)


def test_mirror_negates_yaw_and_roll():
    pts = project_template(yaw=25, pitch=10, roll=8, scale=2.0)
    mirrored = (pts * [-1.0, 1.0])[MIRROR_INDEX]
    a, b = estimate_pose(pts), estimate_pose(mirrored)
    assert np.allclose(b, [-a[0], a[1], -a[2], a[3]], atol=1e-6)


def test_noise_robustness():
    rng = np.random.default_rng(0)
    pts = project_template(yaw=20, pitch=-10, roll=5, scale=2.0) + rng.normal(0, 1.0, (68, 2))
    assert np.allclose(estimate_pose(pts)[:3], [20, -10, 5], atol=3.0)


def test_filter_first_output_is_unbiased_and_deadband_holds():
    f = PoseFilter()
    first = f.update(project_template(yaw=10, pitch=2, roll=1, scale=2.0))
    assert np.allclose(first, [10, 2, 1, 2.0], atol=1e-6)  # bias correction: no pull toward 0
    held = f.update(project_template(yaw=10.4, pitch=2.4, roll=1.4, scale=2.003))
    assert np.array_equal(held, first)  # every move is inside its deadband
    for _ in range(30):
        out = f.update(project_template(yaw=15, pitch=2, roll=1, scale=2.0))
    assert out[0] == pytest.approx(15, abs=0.5) and out[1] == first[1] and out[2] == first[2]


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(st.floats(-0.49, 0.49), st.floats(-0.49, 0.49), st.floats(-0.49, 0.49), st.floats(-0.0019, 0.0019)), min_size=1, max_size=10))
def test_deadband_never_moves_within_band(wobble):
    f = PoseFilter()
    base = np.array([5.0, -3.0, 2.0, 1.5])
    first = f.update_pose(base)
    for w in wobble:
        out = f.update_pose(base + np.array([w[0], w[1], w[2], w[3] * base[3]]) * 0.999)
        assert np.array_equal(out, first)


def test_state_is_small():
    f = PoseFilter()
    f.update(project_template(yaw=5, scale=2.0))
    assert f.state_nbytes <= 1024


def test_reset_and_roll_unwrap():
    f = PoseFilter(beta=0.5, deadband=(0, 0, 0, 0))
    f.update_pose([0, 0, 179.0, 1.0])
    out = f.update_pose([0, 0, -179.0, 1.0])
    assert abs(((out[2] - 180.0) + 180.0) % 360.0 - 180.0) < 1.5  # stays near +-180, not 0
    f.reset()
    assert f.pose is None
    assert np.allclose(f.update_pose([1, 2, 3, 4.0]), [1, 2, 3, 4.0])


def test_pose_to_similarity():
    m = np.array([[0.5, 0.1, 10.0], [-0.1, 0.5, 20.0]])
    pivot = np.array([300.0, 200.0])
    p = np.array([0, 0, 10.0, 2.0])
    assert np.allclose(pose_to_similarity(m, p, p, pivot), m)
    f = np.array([0, 0, 7.0, 2.2])
    out = pose_to_similarity(m, p, f, pivot)
    assert np.allclose(out[:, :2] @ pivot + out[:, 2], m[:, :2] @ pivot + m[:, 2])  # pivot kept
    ratio = np.sqrt(abs(np.linalg.det(out[:, :2])) / abs(np.linalg.det(m[:, :2])))
    assert ratio == pytest.approx(2.0 / 2.2)
    ang = lambda a: np.degrees(np.arctan2(a[1, 0], a[0, 0]))  # noqa: E731
    assert ang(out) - ang(m) == pytest.approx(3.0)  # rotated by raw roll - filtered roll


def test_pose_to_similarity_applies_filtered_roll():
    # The raw face is rolled 20 degrees; its alignment matrix rotates it upright.
    pts = project_template(roll=20, scale=2.0, center=(400, 300))
    t = np.radians(-20)
    rot = np.array([[np.cos(t), -np.sin(t)], [np.sin(t), np.cos(t)]])
    m = np.concatenate([rot, (np.array([128.0, 128.0]) - rot @ [400.0, 300.0])[:, None]], axis=1)
    # The filter says the roll is really 12 degrees: the crop keeps the 8 degree difference.
    out = pose_to_similarity(m, estimate_pose(pts), np.array([0, 0, 12.0, 2.0]), np.array([400.0, 300.0]))
    mapped = pts @ out[:, :2].T + out[:, 2]
    want = project_template(roll=8, scale=2.0, center=(128, 128))
    assert np.allclose(mapped, want, atol=1e-6)


@pytest.mark.parametrize(
    "call, exc, word",
    [
        (lambda: estimate_pose(np.zeros((6, 2))), ValueError, "landmarks"),
        (lambda: estimate_pose(np.zeros((5, 2))), ValueError, "landmarks"),
        (lambda: estimate_pose(np.full((5, 2), 1e300)), ValueError, r"landmarks: expected coordinates within"),
        (lambda: PoseFilter().update(np.ones((67, 2))), ValueError, "landmarks"),
        (lambda: PoseFilter(beta=1.0), ValueError, "beta"),
        (lambda: PoseFilter(deadband=(1, 1, 1)), ValueError, "deadband"),
        (lambda: PoseFilter(deadband=(1, 1, 1, -1)), ValueError, "deadband"),
        (lambda: PoseFilter().update_pose([0, 0, 0, 0.0]), ValueError, "scale"),
        (lambda: PoseFilter().update_pose([np.nan, 0, 0, 1.0]), ValueError, "pose"),
        (lambda: pose_to_similarity(np.eye(3), np.ones(4), np.ones(4), np.zeros(2)), ValueError, "matrix"),
        (lambda: pose_to_similarity(np.eye(2, 3), np.ones(4), np.ones(3), np.zeros(2)), ValueError, "filtered_pose"),
        (lambda: pose_to_similarity(np.eye(2, 3), np.ones(4), np.ones(4), np.zeros(3)), ValueError, "pivot"),
    ],
)
def test_errors(call, exc, word):
    with pytest.raises(exc, match=word):
        call()
