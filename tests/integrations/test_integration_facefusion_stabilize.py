"""FaceFusion adapter: order-independent stabilisation (record -> plan -> apply) and the CLI."""

from __future__ import annotations

import importlib
import json
import os
import random
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import facefusion_fake
import numpy as np
import pytest

import ffaccel.integrations.facefusion as ffa
from ffaccel.integrations.facefusion import Recorder, StabilizeOptions, StabilizePlan, frame_scope

N = 24
SWAPPER = "facefusion.processors.modules.face_swapper.core"


@pytest.fixture()
def ff(tmp_path, monkeypatch):
    facefusion_fake.put_on_path(tmp_path, monkeypatch)
    workflow = importlib.import_module("facefusion.workflows.core")
    recognizer = importlib.import_module("facefusion.face_recognizer")
    yield type("FF", (), {"workflow": workflow, "recognizer": recognizer, "root": tmp_path})
    ffa.uninstall()
    facefusion_fake.drop_modules()


def _clip(seed=0):
    """A 360p clip with two faces moving smoothly, detected with 1.5 px landmark jitter."""
    rng = np.random.default_rng(seed)
    h, w = 360, 640
    yy, xx = np.mgrid[0:h, 0:w]
    base = np.array([[-30.0, -20], [30, -20], [0, 5], [-22, 30], [22, 30]])
    frames, faces, truths = [], [], []
    for t in range(N):
        img = (np.sin((xx + 3 * t) / 13.0)[..., None] * 50 + np.cos(yy / 19.0)[..., None] * 50 + 128
               + [0, 15, -15] + rng.integers(-20, 20, (h, w, 3)))
        frames.append(np.clip(img, 0, 255).astype(np.uint8))
        truth = [base + [180 + 2.0 * t, 170 + 0.5 * t], base * 0.8 + [470 - 1.0 * t, 180]]
        truths.append(truth)
        faces.append([lm + rng.normal(0, 1.5, lm.shape) for lm in truth])
    return frames, faces, truths


def _run(workflow, frames, faces, order, threads):
    out = [None] * len(frames)

    def one(t):
        out[t] = workflow.process_temp_frame(faces[t], frames[t].copy(), t)

    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(one, order))
    return out


def test_record_pass_changes_nothing_and_plan_is_order_independent(ff):
    frames, faces, _ = _clip()
    stock = _run(ff.workflow, frames, faces, range(N), 1)
    plans = []
    for seed in (1, 2):
        rec = Recorder()
        ffa.install(stabilize=StabilizeOptions(record=rec))
        order = list(range(N))
        random.Random(seed).shuffle(order)
        got = _run(ff.workflow, frames, faces, order, 4)
        assert all(np.array_equal(a, b) for a, b in zip(stock, got)), "recording must not change output"
        assert rec.frames() == list(range(N))
        plans.append(rec.plan())
        ffa.uninstall()
    a, b = plans
    assert sorted(a.rows) == sorted(b.rows)
    for f in a.rows:
        ra = sorted(a.rows[f], key=lambda r: r["track"])
        rb = sorted(b.rows[f], key=lambda r: r["track"])
        assert [r["track"] for r in ra] == [r["track"] for r in rb] == [0, 1]
        for x, y in zip(ra, rb):
            assert np.array_equal(x["smooth"], y["smooth"])
            for field in ("gains", "prev_mask"):
                assert sorted(x[field]) == sorted(y[field])
                assert all(np.array_equal(x[field][p], y[field][p]) for p in x[field])
            assert list(x["gains"]) == [SWAPPER]
            assert f == 0 or list(x["prev_mask"]) == [SWAPPER]


def _plan(ff, frames, faces):
    rec = Recorder()
    ffa.install(stabilize=StabilizeOptions(record=rec))
    _run(ff.workflow, frames, faces, range(N), 2)
    ffa.uninstall()
    return rec.plan()


def test_plan_smooths_landmarks(ff):
    frames, faces, truths = _clip()
    plan = _plan(ff, frames, faces)
    for track in (0, 1):
        rows = [plan.row(t, track) for t in range(N)]
        raw = np.array([r["raw"] for r in rows])
        smooth = np.array([r["smooth"] for r in rows])
        truth = np.array([truths[t][track] for t in range(N)])
        # zero-lag smoothing: closer to the truth and far less frame-to-frame jitter
        assert np.abs(smooth - truth).mean() < 0.7 * np.abs(raw - truth).mean()
        assert np.abs(np.diff(smooth, 2, axis=0)).mean() < 0.3 * np.abs(np.diff(raw, 2, axis=0)).mean()


def test_apply_pass_is_order_and_thread_independent(ff, tmp_path):
    frames, faces, _ = _clip()
    stock = _run(ff.workflow, frames, faces, range(N), 1)
    plan = _plan(ff, frames, faces)
    ffa.install(stabilize=StabilizeOptions(plan=plan))
    sequential = _run(ff.workflow, frames, faces, range(N), 1)
    order = list(range(N))
    random.Random(7).shuffle(order)
    shuffled = _run(ff.workflow, frames, faces, order, 8)
    reverse = _run(ff.workflow, frames, faces, list(reversed(range(N))), 3)
    assert all(np.array_equal(a, b) for a, b in zip(sequential, shuffled))
    assert all(np.array_equal(a, b) for a, b in zip(sequential, reverse))
    assert sum(not np.array_equal(a, b) for a, b in zip(stock, sequential)) >= N - 1, "the plan must act"
    ffa.uninstall()
    path = str(tmp_path / "plan.npz")
    plan.save(path)
    ffa.install(stabilize=StabilizeOptions(plan=path))
    again = _run(ff.workflow, frames, faces, order, 4)
    assert all(np.array_equal(a, b) for a, b in zip(sequential, again))


def test_each_filter_can_be_turned_off(ff):
    frames, faces, _ = _clip()
    stock = _run(ff.workflow, frames, faces, range(N), 1)
    plan = _plan(ff, frames, faces)
    ffa.install(stabilize=StabilizeOptions(plan=plan, landmarks=False, color=False, mask=False))
    off = _run(ff.workflow, frames, faces, range(N), 2)
    assert all(np.array_equal(a, b) for a, b in zip(stock, off))
    outs = {}
    for name in ("landmarks", "color", "mask"):
        flags = {"landmarks": False, "color": False, "mask": False, name: True}
        ffa.install(stabilize=StabilizeOptions(plan=plan, **flags))
        outs[name] = _run(ff.workflow, frames, faces, range(N), 2)
        changed = sum(not np.array_equal(a, b) for a, b in zip(stock, outs[name]))
        assert changed > 0, f"{name} alone changed nothing"


def test_recognizer_and_unscoped_calls_are_not_stabilised(ff):
    frames, faces, _ = _clip()
    warp0 = ff.recognizer.warp_face_by_face_landmark_5
    stock = [warp0(frames[t], faces[t][0], "arcface_128", (112, 112))[0] for t in range(N)]
    plan = _plan(ff, frames, faces)
    ffa.install(stabilize=StabilizeOptions(plan=plan))
    assert ff.recognizer.warp_face_by_face_landmark_5 is not warp0
    for t in range(N):
        with frame_scope(t):
            assert np.array_equal(stock[t], ff.recognizer.crop_for_embedding(frames[t], faces[t][0])[0])
    swapper = sys.modules["facefusion.processors.modules.face_swapper.core"]
    ffa.uninstall()
    unscoped_stock = swapper.swap_face(frames[3], faces[3][0])
    ffa.install(stabilize=StabilizeOptions(plan=plan))
    assert np.array_equal(unscoped_stock, swapper.swap_face(frames[3], faces[3][0]))


def test_stabilize_true_records(ff):
    frames, faces, _ = _clip()
    ffa.install(stabilize=True)
    _run(ff.workflow, frames[:5], faces[:5], range(5), 2)
    rec = ffa.installed_options()["stabilize"].record
    assert rec.frames() == [0, 1, 2, 3, 4]
    assert isinstance(rec.plan(), StabilizePlan)


def test_frame_scope_checks_and_nests():
    with pytest.raises(TypeError, match="frame_number"):
        with frame_scope("3"):
            pass
    assert ffa.current_frame() is None
    with frame_scope(3):
        with frame_scope(4):
            assert ffa.current_frame() == 4
        assert ffa.current_frame() == 3
    assert ffa.current_frame() is None


FACEFUSION_PY = """
import json, sys
from facefusion import face_helper
from facefusion.processors.modules.face_swapper import core
out = sys.argv[-1]
json.dump({"argv": sys.argv[1:], "helper": hasattr(face_helper.paste_back, "__ffaccel_original__"),
           "swapper": hasattr(core.paste_back, "__ffaccel_original__")}, open(out, "w"))
"""


def test_cli_installs_then_runs_facefusion(tmp_path):
    facefusion_fake.write_package(tmp_path)
    (tmp_path / "facefusion.py").write_text(FACEFUSION_PY)
    out = tmp_path / "out.json"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    cmd = [sys.executable, "-m", "ffaccel.integrations.facefusion", "--ffaccel-mode", "fast", "run", "--source",
           "a.jpg", "--output", str(out)]
    proc = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(out.read_text())
    assert data == {"argv": ["run", "--source", "a.jpg", "--output", str(out)], "helper": True, "swapper": True}


def test_cli_rejects_unknown_option(tmp_path):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    proc = subprocess.run([sys.executable, "-m", "ffaccel.integrations.facefusion", "--ffaccel-speed", "x", "run"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0 and "--ffaccel-speed" in proc.stderr


FACEFUSION_CLIP_PY = """
import sys
import numpy as np
sys.path.insert(0, {tests!r})
from test_integration_facefusion_stabilize import _clip
from facefusion.workflows import core
frames, faces, _ = _clip()
out = [core.process_temp_frame(faces[t], frames[t].copy(), t) for t in reversed(range(len(frames)))]
np.save(sys.argv[-1], np.stack(out))
"""


def test_cli_stabilize_runs_both_passes(tmp_path):
    facefusion_fake.write_package(tmp_path)
    tests_dir = os.path.dirname(os.path.abspath(__file__))
    (tmp_path / "facefusion.py").write_text(FACEFUSION_CLIP_PY.format(tests=tests_dir))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    outs = {}
    for name, extra in (("plain", []), ("stable", ["--ffaccel-stabilize"])):
        target = str(tmp_path / f"{name}.npy")
        proc = subprocess.run([sys.executable, "-m", "ffaccel.integrations.facefusion", *extra, "run", target],
                              cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stderr
        outs[name] = np.load(target)
    facefusion_fake.drop_modules()
    sys.path.insert(0, str(tmp_path))
    try:
        workflow = importlib.import_module("facefusion.workflows.core")
        frames, faces, _ = _clip()
        stock = np.stack([workflow.process_temp_frame(faces[t], frames[t].copy(), t) for t in reversed(range(N))])
    finally:
        sys.path.remove(str(tmp_path))
        facefusion_fake.drop_modules()
    assert np.array_equal(outs["plain"], stock)  # exact mode through the CLI
    changed = [not np.array_equal(a, b) for a, b in zip(outs["stable"], stock)]
    assert sum(changed) >= N - 1


FACEFUSION_OUTPUT_PY = FACEFUSION_CLIP_PY.replace("np.save(sys.argv[-1], np.stack(out))", """
args = sys.argv[1:]
path = next((a.split("=", 1)[1] for a in args if a.startswith("--output-path=")), None)
path = path or args[args.index("-o" if "-o" in args else "--output-path") + 1]
with open(path, "a") as f:  # one line per FaceFusion run that wrote this output
    f.write("run\\n")
""")


@pytest.mark.parametrize("form", ["-o", "--output-path", "--output-path="])
def test_cli_stabilize_record_pass_leaves_the_users_output_alone(tmp_path, form):
    # The record pass is a whole FaceFusion run; its (unstabilised) output goes to the plan's
    # temporary folder, so the user's file is written once, by the apply pass.
    facefusion_fake.write_package(tmp_path)
    tests_dir = os.path.dirname(os.path.abspath(__file__))
    (tmp_path / "facefusion.py").write_text(FACEFUSION_OUTPUT_PY.format(tests=tests_dir))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    target = tmp_path / "out.mp4"
    target.write_text("old\n")
    output = [f"{form}{target}"] if form.endswith("=") else [form, str(target)]
    proc = subprocess.run([sys.executable, "-m", "ffaccel.integrations.facefusion", "--ffaccel-stabilize", "run",
                           *output], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert target.read_text() == "old\nrun\n"


def test_record_output_moves_only_the_output_arguments(tmp_path):
    from ffaccel.integrations.facefusion import _record_output

    out_dir = tmp_path / "videos"
    out_dir.mkdir()
    args = ["headless-run", "-s", "a.png", "-t", "b.mp4", "-o", "/x/y/out.mp4", "--output-video-quality", "80"]
    assert _record_output(args, "/tmp/plan") == [*args[:6], "/tmp/plan/out.mp4", *args[7:]]
    assert _record_output(["--output-path=/x/o.mkv"], "/p") == ["--output-path=/p/o.mkv"]
    assert _record_output(["--output-pattern", "/x/out-{index}.mp4"], "/p") == ["--output-pattern", "/p/out-{index}.mp4"]
    assert _record_output(["-o", str(out_dir)], str(tmp_path)) == ["-o", str(tmp_path / "out")]
    assert (tmp_path / "out").is_dir()
    assert _record_output(["-o"], "/p") == ["-o"]  # no value: FaceFusion reports it


def test_two_processors_keep_separate_records(ff):
    """face_swapper then face_enhancer on each face: gains and masks are kept per processor."""
    frames, faces, _ = _clip()
    frames, faces = frames[:10], faces[:10]
    ff.workflow.ENHANCE = True
    rec = Recorder()
    ffa.install(stabilize=StabilizeOptions(record=rec))
    _run(ff.workflow, frames, faces, range(10), 2)
    ffa.uninstall()
    plan = rec.plan()
    enhancer = "facefusion.processors.modules.face_enhancer.core"
    row = plan.row(5, 0)
    assert sorted(row["gains"]) == sorted([SWAPPER, enhancer])
    assert not np.allclose(row["gains"][SWAPPER], row["gains"][enhancer])
    ffa.install(stabilize=StabilizeOptions(plan=plan))
    a = _run(ff.workflow, frames, faces, range(10), 1)
    b = _run(ff.workflow, frames, faces, list(reversed(range(10))), 4)
    assert all(np.array_equal(x, y) for x, y in zip(a, b))


def _fast_nod(seed=0, frames=90, width=230.0):
    """A 5-point face ``width`` px wide nodding fast (peak 0.1 width/frame), with rigid detector noise."""
    rng = np.random.default_rng(seed)
    base = np.array([[-0.2, -0.12], [0.2, -0.12], [0.0, 0.05], [-0.15, 0.22], [0.15, 0.22]]) * width
    t = np.arange(frames, dtype=float)
    phase = 2 * np.pi * 1.5 * np.clip(t - 20, 0, 40) / 30.0  # 1.5 Hz, frames 20-60, 2 nods
    amp = 0.1 * width * 30.0 / (2 * np.pi * 1.5)  # peak speed 0.1 width per frame (23 px at 230 px)
    dy = amp * (1 - np.cos(phase))
    truth = base[None] + np.stack([np.full(frames, 960.0), 540.0 + dy], 1)[:, None, :]
    sigma = 0.01 * width  # mostly a rigid shift of all five points, as real detectors give
    noisy = truth + rng.normal(0, sigma * 0.94, (frames, 1, 2)) + rng.normal(0, sigma * 0.33, truth.shape)
    return truth, noisy, width


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_plan_stays_on_the_face_through_a_fast_nod(seed):
    truth, noisy, width = _fast_nod(seed)
    rec = Recorder()
    for f, lm in enumerate(noisy):
        rec.add_landmarks(f, lm)
    plan = rec.plan()
    smooth = np.array([plan.row(f, 0)["smooth"] for f in range(len(noisy))])
    assert all(len(plan.rows[f]) == 1 for f in range(len(noisy)))  # one track, no false cut
    worst = np.sqrt(((smooth - truth) ** 2).sum(-1)).max()
    assert worst <= 0.02 * width, worst / width
    jitter = lambda a: np.sqrt(np.mean(np.diff(a - truth, 2, axis=0) ** 2))  # noqa: E731
    assert jitter(smooth) < jitter(noisy) / 3


REAL_TRACKS = __import__("pathlib").Path(__file__).resolve().parents[1] / "data" / "real_tracks"


def _glitched_cut_track():
    # Real MTCNN track with a scene cut; its first detection after the cut thrown 25 % of the
    # face width off, as MTCNN does (real-detector benchmark).
    d = np.load(REAL_TRACKS / "cut_720p_80_astronaut.npz")
    det, truth, cut = d["detected"].copy(), d["truth"], int(d["cuts"][0])
    width = 2.0 * np.linalg.norm(truth[cut, 1] - truth[cut, 0])
    det[cut] += 0.25 * width
    return det, truth, cut, width


@pytest.mark.parametrize("other_face", [False, True])
def test_a_glitched_first_detection_after_a_cut_is_smoothed_not_pasted_raw(other_face):
    # Alone, the face stays one track across the cut (stabilize_track finds the cut). Beside a
    # second face the glitch matches no track and starts a one-frame track, which used to be
    # pasted raw (a jump right after the cut); it is now joined to the shot that follows.
    import ffaccel

    det, truth, cut, width = _glitched_cut_track()
    still = det[0] + 10.0 * width  # a second, still face far away
    faces = {f: [{"lm": det[f].copy()}] + ([{"lm": still.copy()}] if other_face else []) for f in range(len(det))}
    plan = StabilizePlan.build(faces, StabilizeOptions())
    out = np.array([next(r["smooth"] for r in plan.rows[f] if np.abs(r["raw"] - det[f]).max() == 0)
                    for f in range(len(det))])
    np.testing.assert_allclose(out, ffaccel.stabilize_track(det, mode="offline"), atol=1e-9)
    err = np.abs(out[cut] - truth[cut]).max() / width
    assert err < 0.08, err  # raw: 0.25 plus the detector's own error


def test_a_short_track_that_shares_a_frame_with_its_neighbour_stays_apart():
    # Two faces: a 2-frame face B appears while face A is tracked; B must not be joined to A.
    rng = np.random.default_rng(3)
    base = np.array([[40.0, 50], [80, 50], [60, 70], [45, 90], [75, 90]])
    faces = {f: [{"lm": base + rng.normal(0, 0.3, (5, 2))}] for f in range(12)}
    for f in (4, 5):
        faces[f].append({"lm": base + 300.0})
    plan = StabilizePlan.build(faces, StabilizeOptions())
    far = [r for f in (4, 5) for r in plan.rows[f] if r["raw"][0, 0] > 200]
    near = [r for f in range(12) for r in plan.rows[f] if r["raw"][0, 0] < 200]
    assert len({r["track"] for r in far}) == 1 and len({r["track"] for r in near}) == 1
    assert far[0]["track"] != near[0]["track"]
    for r in far:
        np.testing.assert_array_equal(r["smooth"], r["raw"])  # too short to smooth: left as detected
