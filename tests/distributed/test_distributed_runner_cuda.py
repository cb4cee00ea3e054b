"""ffaccel.distributed on a GPU: GPU actors (num_gpus) give the one-process GPU run's bytes.

Run on the GPU machine with ``pytest -m cuda tests/distributed/test_distributed_runner_cuda.py``.
"""

from __future__ import annotations

import numpy as np
import pytest

ray = pytest.importorskip("ray", reason='Ray is not installed (pip install "ffaccel[ray]")')

from ffaccel.distributed import DemoPipeline, Job, read_ffr, run_jobs, run_local, write_demo_clips  # noqa: E402

pytestmark = pytest.mark.cuda
FRAMES = 16


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    from ffaccel.demo.pipeline import cuda_backend

    backend, reason = cuda_backend()
    if backend is None:
        pytest.skip(reason)
    d = tmp_path_factory.mktemp("dist_cuda")
    paths = write_demo_clips(d / "in", 2, frames=FRAMES, width=640, height=360)
    refs = [run_local(Job(p, d / f"ref_{k}.ffr"), DemoPipeline(crop_size=256, device="cuda"))
            for k, p in enumerate(paths)]
    ray.init(num_cpus=4, num_gpus=1, include_dashboard=False, configure_logging=False, log_to_driver=False)
    yield d, paths, refs
    ray.shutdown()


def test_gpu_one_process_matches_the_demo_cuda_path(setup):
    """run_local(device='cuda') writes FfaccelCudaPath's frames, and stays within 2 levels of the CPU run."""
    import ffaccel
    from ffaccel.demo.clip import ClipSpec, SyntheticClip
    from ffaccel.demo.pipeline import FfaccelCudaPath, PipelineConfig, align_source, cuda_backend

    d, paths, refs = setup
    demo = SyntheticClip(ClipSpec(frames=FRAMES, width=640, height=360, seed=7))
    smooth = ffaccel.stabilize_track(demo.noisy5, mode="offline", cuts=[])
    path = FfaccelCudaPath(PipelineConfig(align_source(demo.source, demo.source_five, 256)), cuda_backend()[0])
    expected = np.stack([path.process(demo.frame(i), smooth[i])[0] for i in range(FRAMES)])
    got = read_ffr(d / "ref_0.ffr")
    np.testing.assert_array_equal(got, expected)
    run_local(Job(paths[0], d / "cpu_0.ffr"), DemoPipeline(crop_size=256))
    diff = np.abs(read_ffr(d / "cpu_0.ffr").astype(int) - got).max()
    assert diff <= 2, f"GPU vs CPU: max abs diff {diff}"


@pytest.mark.parametrize("fraction", [1.0, 0.5])
def test_gpu_actors_are_byte_identical(setup, tmp_path, fraction):
    """One actor on the GPU, and two actors sharing it (num_gpus=0.5): the one-process GPU bytes."""
    d, paths, _ = setup
    jobs = [Job(p, tmp_path / f"o_{k}.ffr") for k, p in enumerate(paths)]
    results = run_jobs(jobs, DemoPipeline(crop_size=256, device="cuda"), gpus=True, gpu_fraction=fraction,
                       segment_frames=6, progress=False)
    for k, r in enumerate(results):
        assert r.ok, r.error
        assert (tmp_path / f"o_{k}.ffr").read_bytes() == (d / f"ref_{k}.ffr").read_bytes()
