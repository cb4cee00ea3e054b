"""FaceTracker: stable ids, birth/death, each track owns its filter."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ffaccel.stability import FaceTracker, LandmarkStabilizer, TemporalSmoother, iou_matrix
from ffaccel.stability import tracker as tracker_module
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


class _Counting:
    """A filter that counts its frames; ``spawn`` makes one that starts from the parent's count."""

    def __init__(self, start: int = 0) -> None:
        self.frames = start
        self.parent = None

    def update(self, points, timestamp=None):
        self.frames += 1
        return points

    def spawn(self):
        child = _Counting(self.frames)
        child.parent = self
        return child


def test_new_tracks_spawn_from_the_longest_lived_track_of_the_latest_frame():
    tr = FaceTracker(filter_factory=_Counting, max_missed=0)
    pts = np.zeros((1, 5, 2))
    tr.update(_box(A)[None], pts)
    for _ in range(4):
        tr.update(np.stack([_box(A), _box(B)]), np.zeros((2, 5, 2)))
    a, b = tr.tracks
    assert a.filter.parent is None and b.filter.parent is a.filter  # B was spawned from A (the factory made A)
    tr.update(np.zeros((0, 4)), np.zeros((0, 5, 2)))  # both die (max_missed 0)
    tr.update(_box(B + 300)[None], pts)  # a new face after frames with none: spawned from A all the same
    (c,) = tr.tracks
    assert c.filter.parent is a.filter and c.filter.frames == 5 + 1
    tr.reset()
    tr.update(_box(A)[None], pts)
    assert tr.tracks[0].filter.parent is None  # reset forgets it


def test_filters_without_spawn_come_from_the_factory():
    made = []
    tr = FaceTracker(filter_factory=lambda: made.append(TemporalSmoother()) or made[-1], max_missed=0)
    tr.update(_box(A)[None], np.array([A]))
    tr.update(_box(B)[None], np.array([B]))  # A dies, B is new
    assert len(made) == 2 and tr.tracks[0].filter is made[1]


def test_a_stabiliser_track_after_a_lost_face_drops_its_off_first_detection():
    # A LandmarkStabilizer per track: the face is lost, then found again elsewhere with a
    # first detection 4 px off; the new track's filter is spawned, so it has the detector's
    # noise level and restarts on the second detection (a fresh one would keep part of it).
    rng = np.random.default_rng(0)
    tr = FaceTracker(filter_factory=LandmarkStabilizer, max_missed=1)
    for _ in range(30):
        tr.update(_box(A)[None], (A + rng.normal(0, 0.3, A.shape))[None])
    for _ in range(3):
        tr.update(np.zeros((0, 4)), np.zeros((0, len(A), 2)))
    far = A + 500.0
    tr.update(_box(far)[None], (far + 4.0)[None])
    second = far + rng.normal(0, 0.3, A.shape)
    _, out = tr.update(_box(far)[None], second[None])
    np.testing.assert_allclose(out[0], second, atol=1e-9)


class _Recording:
    accepts_missed = True

    def __init__(self) -> None:
        self.calls: list = []

    def update(self, points, timestamp=None):
        self.calls.append((None if points is None else "pts", timestamp))
        return points


def test_an_unmatched_track_tells_its_filter_of_the_missed_frame():
    tr = FaceTracker(filter_factory=_Recording, max_missed=2)
    pts = np.zeros((1, 5, 2))
    tr.update(_box(A)[None], pts, timestamp=0.0)
    flt = tr.tracks[0].filter
    for t in (1.0, 2.0, 3.0):  # two misses survived, the third kills the track (no call)
        tr.update(np.zeros((0, 4)), np.zeros((0, 5, 2)), timestamp=t)
    assert flt.calls == [("pts", 0.0), (None, 1.0), (None, 2.0)] and tr.tracks == []
    plain = FaceTracker(filter_factory=TemporalSmoother, max_missed=2)  # no accepts_missed: never given None
    plain.update(_box(A)[None], np.array([A]))
    plain.update(np.zeros((0, 4)), np.zeros((0, len(A), 2)))
    assert plain.tracks[0].missed == 1


def _numpy_pairs(tracks: np.ndarray, dets: np.ndarray, threshold: float) -> list:
    iou = iou_matrix(tracks, dets)
    at = np.argwhere(iou >= threshold)
    order = np.argsort(-iou[at[:, 0], at[:, 1]], kind="stable")
    return [(int(t), int(d)) for t, d in at[order]]


_box_st = st.tuples(*[st.integers(0, 40)] * 2, *[st.integers(0, 20)] * 2).map(
    lambda v: [v[0] / 2, v[1] / 2, v[0] / 2 + v[2] / 2, v[1] / 2 + v[3] / 2])  # on a half-pixel grid: ties and zero areas


@settings(max_examples=300, deadline=None)
@given(st.lists(_box_st, min_size=1, max_size=6), st.lists(_box_st, min_size=1, max_size=6),
       st.sampled_from([0.05, 0.3, 0.5, 1.0]))
def test_small_count_matching_equals_the_numpy_matching(tracks, dets, threshold):
    # The tracker's matching on Python floats (up to _SMALL pairs) and on numpy (beyond):
    # the same pairs in the same order, ties and empty boxes included.
    small = tracker_module._pairs_small(tracks, dets, threshold)
    assert small == _numpy_pairs(np.array(tracks), np.array(dets), threshold)


def test_the_tracker_matches_the_same_either_side_of_small(monkeypatch):
    rng = np.random.default_rng(5)
    centres = rng.uniform(0, 2000, (12, 2))
    frames = [np.concatenate([centres + rng.normal(0, 8, centres.shape) - 40, centres + 40], axis=1) for _ in range(6)]
    runs = []
    for small in (10**6, 0):
        monkeypatch.setattr(tracker_module, "_SMALL", small)
        tr = FaceTracker()
        runs.append([tr.update(b)[0].tolist() for b in frames])
    assert runs[0] == runs[1]


def test_a_pickled_tracker_goes_on_as_the_original():
    import pickle

    rng = np.random.default_rng(4)
    tr = FaceTracker(filter_factory=LandmarkStabilizer, max_missed=0)
    for _ in range(10):
        tr.update(_box(A)[None], (A + rng.normal(0, 0.3, A.shape))[None])
    copy = pickle.loads(pickle.dumps(tr))
    del copy._spawn_from  # as a tracker pickled before new tracks were spawned: the factory makes them
    again = pickle.loads(pickle.dumps(tr))
    far = A + 400.0
    frames = [(_box(far)[None], (far + 3.0)[None]), (_box(far)[None], far[None])]
    outs = [[t.update(b, p)[1] for b, p in frames] for t in (tr, again)]
    np.testing.assert_array_equal(outs[0][1], outs[1][1])  # the spawned track's second frame, both the same
    for b, p in frames:
        copy.update(b, p)  # works without the attribute
