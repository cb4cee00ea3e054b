"""ffaccel.distributed without Ray: segments, the whole-video stabiliser, pipelines and run_local."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import ffaccel
from ffaccel.distributed import (
    DemoPipeline,
    Job,
    StabiliserSettings,
    SwapPipeline,
    plan_segments,
    read_ffr,
    run_local,
    stabilise_track,
    write_demo_clips,
    write_ffr,
)


@settings(max_examples=200, deadline=None)
@given(frames=st.integers(1, 400), seg=st.integers(1, 100), data=st.data())
def test_segments_cover_every_frame_once_and_start_at_keyframes(frames, seg, data):
    keys = data.draw(st.lists(st.integers(0, frames + 5), max_size=40))
    segs = plan_segments(frames, keys, seg)
    covered = np.concatenate([np.arange(a, b) for a, b in segs])
    np.testing.assert_array_equal(covered, np.arange(frames))
    assert all(b > a for a, b in segs)
    assert all(a == 0 or a in keys for a, _ in segs)
    assert all(b - a >= seg for a, b in segs[:-1])  # no segment shorter than asked, but the last


def test_segment_arguments():
    with pytest.raises(ValueError, match="frames"):
        plan_segments(0, [0], 4)
    with pytest.raises(ValueError, match="segment_frames"):
        plan_segments(10, [0], 0)


def test_whole_video_stabilisation_leaves_no_trace_of_segments():
    """The track the runner stabilises is the whole video's; stabilising per segment would differ."""
    rng = np.random.default_rng(3)
    truth = np.linspace(0, 90, 120)[:, None, None] + rng.uniform(100, 200, (5, 2))
    noisy = truth + rng.normal(0, 1.5, truth.shape)
    s = StabiliserSettings(cuts=[])
    whole = stabilise_track(noisy, s)
    np.testing.assert_array_equal(whole, ffaccel.stabilize_track(noisy, mode="offline", cuts=[]))
    # gathered from segments (as pass 1 returns them), then stabilised: identical
    gathered = np.concatenate([noisy[a:b] for a, b in plan_segments(120, range(120), 25)])
    np.testing.assert_array_equal(stabilise_track(gathered, s), whole)
    per_segment = np.concatenate([stabilise_track(noisy[a:b], s) for a, b in plan_segments(120, range(120), 25)])
    assert np.abs(per_segment[24:26] - whole[24:26]).max() > 1e-3  # a per-segment smoother would leave a seam


def test_stabiliser_is_the_offline_stabilize_track_and_can_be_off():
    track = np.cumsum(np.random.default_rng(0).normal(0, 1, (40, 5, 2)), axis=0)
    np.testing.assert_array_equal(stabilise_track(track, StabiliserSettings(cuts=[])),
                                  ffaccel.stabilize_track(track, mode="offline", cuts=[]))
    np.testing.assert_array_equal(stabilise_track(track, StabiliserSettings(enabled=False)), track)


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    return write_demo_clips(tmp_path_factory.mktemp("clips"), 1, frames=12, width=320, height=180)[0]


def test_run_local_equals_the_demo_pipeline(clip, tmp_path):
    """run_local on a demo clip writes exactly FfaccelCpuPath's frames on the demo's stabilised track."""
    from ffaccel.demo.clip import ClipSpec, SyntheticClip
    from ffaccel.demo.pipeline import FfaccelCpuPath, PipelineConfig, align_source

    res = run_local(Job(clip, tmp_path / "out.ffr"), DemoPipeline(crop_size=96))
    demo = SyntheticClip(ClipSpec(frames=12, width=320, height=180, seed=7))
    smooth = ffaccel.stabilize_track(demo.noisy5, mode="offline", cuts=[])
    np.testing.assert_array_equal(res.track, smooth)
    path = FfaccelCpuPath(PipelineConfig(align_source(demo.source, demo.source_five, 96)))
    expected = np.stack([path.process(demo.frame(i), smooth[i])[0] for i in range(12)])
    got = read_ffr(tmp_path / "out.ffr")
    np.testing.assert_array_equal(got, expected)
    assert not np.array_equal(got, np.stack([demo.frame(i) for i in range(12)]))  # something was swapped


def _nan_detector():
    def detect(frames, indices, meta):
        out = np.full((len(frames), 5, 2), np.nan)
        return out
    return detect


def _identity_swapper():
    return lambda crops, indices: crops


def _bad_swapper():
    return lambda crops, indices: crops[:, :4]


def test_frames_without_a_face_pass_through(tmp_path):
    frames = np.random.default_rng(1).integers(0, 256, (5, 40, 50, 3), dtype=np.uint8)
    src = write_ffr(tmp_path / "in.ffr", frames)
    res = run_local(Job(src, tmp_path / "out.ffr"), SwapPipeline(_nan_detector, _identity_swapper, crop_size=32))
    assert res.ok
    np.testing.assert_array_equal(read_ffr(tmp_path / "out.ffr"), frames)


def test_swap_pipeline_arguments(clip, tmp_path):
    with pytest.raises(TypeError, match="make_detector"):
        SwapPipeline(None, _identity_swapper)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="crop_size"):
        SwapPipeline(_nan_detector, _identity_swapper, crop_size=2)
    with pytest.raises(ValueError, match="batch_size"):
        SwapPipeline(_nan_detector, _identity_swapper, batch_size=0)
    from ffaccel.distributed.demo import _make_detector

    with pytest.raises(ValueError, match="swapper: expected"):
        run_local(Job(clip, tmp_path / "o.ffr"), SwapPipeline(_make_detector, _bad_swapper, crop_size=32))
    assert not (tmp_path / "o.ffr").exists()  # nothing under the final name after a failure


class _HostBackend:
    """A stand-in for the demo's cupy backend that keeps arrays on the host: the GPU branch's data flow on a CPU."""

    name = "host"
    cupy = np

    def upload(self, a):
        return np.array(a)

    def download(self, a):
        return np.asarray(a)

    def contiguous(self, a):
        return np.ascontiguousarray(a)


def test_gpu_branch_data_flow_gives_the_cpu_bytes(clip, tmp_path):
    """SwapPipeline's device branch (upload, warp, stacked swap, paste in place, download) on a host stand-in."""
    cpu = run_local(Job(clip, tmp_path / "cpu.ffr"), DemoPipeline(crop_size=96))
    pipe = DemoPipeline(crop_size=96)
    pipe.load()
    pipe._backend, pipe._gpu_mask = _HostBackend(), pipe._mask
    from ffaccel.distributed import FfrReader

    reader = FfrReader(clip)
    frames = reader.read_range(0, reader.frames)
    out = pipe.process(frames, cpu.track, np.arange(reader.frames), reader.meta)
    np.testing.assert_array_equal(out, read_ffr(tmp_path / "cpu.ffr"))
