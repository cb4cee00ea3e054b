"""FaceTracker: stable ids, birth/death, each track owns its filter."""

from __future__ import annotations

import numpy as np
import pytest

from ffaccel.stability import FaceTracker, TemporalSmoother, iou_matrix
from ffaccel.stability._face import project_template

A = project_template(scale=1.0, center=(200, 200))
B = project_template(scale=1.0, center=(800, 300))


def _box(pts):
    return np.concatenate([pts.min(0), pts.max(0)])


def test_ids_are_stable_and_order_independent():
    tr = FaceTracker()
    ids0, _ = tr.update(np.stack([_box(A), _box(B)]))
    assert ids0.tolist() == [0, 1]
    for k in range(1, 6):
        ids, _ = tr.update(np.stack([_box(B + k), _box(A + k)]))  # order swapped, faces drift
        assert ids.tolist() == [1, 0]


def test_each_track_owns_its_filter():
    tr = FaceTracker(filter_factory=TemporalSmoother)
    rng = np.random.default_rng(0)
    for _ in range(10):
        lms = np.stack([A, B]) + rng.normal(0, 1, (2, 68, 2))
        ids, out = tr.update(np.stack([_box(A), _box(B)]), lms)
    f0, f1 = (t.filter for t in sorted(tr.tracks, key=lambda t: t.id))
    assert f0 is not f1
    # id separation: each output stays with its own face, never pulled toward the other
    assert np.abs(out[0] - A).max() < 5 and np.abs(out[1] - B).max() < 5
    # Filtering face A alone through a fresh filter gives the same as inside the tracker.
    solo = TemporalSmoother()
    tr2 = FaceTracker(filter_factory=TemporalSmoother)
    rng = np.random.default_rng(1)
    for _ in range(8):
        lms = np.stack([A, B]) + rng.normal(0, 1, (2, 68, 2))
        _, out = tr2.update(np.stack([_box(A), _box(B)]), lms)
        assert np.array_equal(out[0], solo.update(lms[0]))


def test_birth_death_and_max_missed():
    made = []

    def factory():
        made.append(TemporalSmoother())
        return made[-1]

    tr = FaceTracker(max_missed=2, filter_factory=factory)
    tr.update(np.stack([_box(A)]), A[None])
    ids, _ = tr.update(np.stack([_box(A), _box(B)]), np.stack([A, B]))
    assert ids.tolist() == [0, 1] and len(made) == 2
    for _ in range(2):  # B missing for 2 frames: still alive
        tr.update(np.stack([_box(A)]), A[None])
    assert sorted(t.id for t in tr.tracks) == [0, 1]
    ids, _ = tr.update(np.stack([_box(A), _box(B)]), np.stack([A, B]))
    assert ids.tolist() == [0, 1] and len(made) == 2  # came back in time: same track, same filter
    for _ in range(3):  # now missing for 3 frames: dies
        tr.update(np.stack([_box(A)]), A[None])
    assert [t.id for t in tr.tracks] == [0]
    ids, _ = tr.update(np.stack([_box(A), _box(B)]), np.stack([A, B]))
    assert ids.tolist() == [0, 2] and len(made) == 3  # a new track with a fresh filter


def test_no_detections_and_reset():
    tr = FaceTracker()
    ids, out = tr.update(np.zeros((0, 4)))
    assert ids.shape == (0,) and out is None
    tr.update(np.stack([_box(A)]))
    tr.reset()
    assert tr.update(np.stack([_box(B)]))[0].tolist() == [0]


def test_iou_matrix():
    a = np.array([[0, 0, 2, 2], [0, 0, 1, 1]])
    b = np.array([[0, 0, 2, 2], [3, 3, 4, 4]])
    assert np.allclose(iou_matrix(a, b), [[1.0, 0.0], [0.25, 0.0]])


@pytest.mark.parametrize(
    "call, exc, word",
    [
        (lambda: FaceTracker(iou_threshold=0), ValueError, "iou_threshold"),
        (lambda: FaceTracker(max_missed=-1), ValueError, "max_missed"),
        (lambda: FaceTracker(filter_factory=3), TypeError, "filter_factory"),
        (lambda: FaceTracker().update(np.zeros((2, 3))), ValueError, "boxes"),
        (lambda: FaceTracker().update(np.array([[5.0, 0, 1, 1]])), ValueError, "boxes"),
        (lambda: FaceTracker().update(np.zeros((2, 4)), np.zeros((3, 68, 2))), ValueError, "landmarks"),
        (lambda: FaceTracker().update(np.full((1, 4), np.nan)), ValueError, "boxes"),
    ],
)
def test_errors(call, exc, word):
    with pytest.raises(exc, match=word):
        call()
