"""FaceFusion adapter against FaceFusion's real source (3.5.x-3.8.x), where a checkout is available.

The source comes only from ``FFACCEL_FACEFUSION_SRC``: a FaceFusion checkout (the
directory holding ``facefusion/``), e.g. ``git clone --branch 3.5.0
https://github.com/facefusion/facefusion`` (3.5.x for OpenCV 4, 3.8.x for OpenCV 5).
Without it these tests are skipped, and tests/run.sh says so in its summary. The
FaceFusion version is read from the checkout's ``facefusion/metadata.py``.
FaceFusion's model runtimes are not needed: if onnxruntime, onnx, tqdm or scipy are
missing, import-only stand-ins are put on sys.path (the helpers under test do not use
them).
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import pkgutil
import re
import subprocess
import sys

import cv2
import facefusion_fake
import numpy as np
import pytest

import ffaccel.integrations.facefusion as ffa

SKIP_REASON = "no FaceFusion source: set FFACCEL_FACEFUSION_SRC to a FaceFusion checkout"

STUBS = {
    "onnxruntime/__init__.py": "class InferenceSession:\n    pass\n\n\n"
                               "def get_available_providers():\n    return ['CPUExecutionProvider']\n\n\n"
                               "def set_default_logger_severity(level):\n    pass\n",
    "onnx/__init__.py": "def load(*args, **kwargs):\n    raise RuntimeError('onnx stand-in')\n",
    "tqdm/__init__.py": "class tqdm:\n    def __init__(self, *a, **k):\n        pass\n",
    "scipy/__init__.py": "from . import signal\n",
    "scipy/signal.py": "def stft(*a, **k):\n    raise RuntimeError('scipy stand-in')\n",
}


def _source() -> str:
    src = os.environ.get("FFACCEL_FACEFUSION_SRC")
    if not src:
        pytest.skip(SKIP_REASON)
    if not os.path.isfile(os.path.join(src, "facefusion", "metadata.py")):
        pytest.fail(f"FFACCEL_FACEFUSION_SRC={src!r}: expected a FaceFusion checkout holding facefusion/metadata.py")
    return src


def _version(src: str) -> tuple[int, ...]:
    """FaceFusion's version from its metadata.py, as numbers (compare tuples, not strings)."""
    with open(os.path.join(src, "facefusion", "metadata.py"), encoding="utf-8") as f:
        m = re.search(r"'version'\s*:\s*'(\d+(?:\.\d+)*)", f.read())
    assert m, "facefusion/metadata.py: no 'version' entry"
    return tuple(int(p) for p in m.group(1).split("."))


@pytest.fixture(scope="module")
def real(tmp_path_factory):
    src = _source()
    stubs = tmp_path_factory.mktemp("stubs")
    for rel, text in STUBS.items():
        if importlib.util.find_spec(rel.split("/")[0]) is None:
            path = stubs / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
    facefusion_fake.drop_modules()
    sys.path[:0] = [src, str(stubs)]
    importlib.invalidate_caches()
    try:
        mods = {"helper": importlib.import_module("facefusion.face_helper"),
                "masker": importlib.import_module("facefusion.face_masker"),
                "recognizer": importlib.import_module("facefusion.face_recognizer"),
                "classifier": importlib.import_module("facefusion.face_classifier")}
        processors = importlib.import_module("facefusion.processors.modules")
        mods["processors"] = [importlib.import_module(f"facefusion.processors.modules.{m.name}.core")
                              for m in pkgutil.iter_modules(processors.__path__)]
        mods["src"], mods["stubs"], mods["version"] = src, str(stubs), _version(src)
        yield mods
    finally:
        ffa.uninstall()
        sys.path.remove(src)
        sys.path.remove(str(stubs))
        facefusion_fake.drop_modules()
        for name in [n for n in sys.modules if n.split(".")[0] in ("onnxruntime", "onnx", "tqdm", "scipy")]:
            if getattr(sys.modules[name], "__file__", "") and str(stubs) in sys.modules[name].__file__:
                del sys.modules[name]


def _holders(originals):
    """(module, attribute) pairs in sys.modules that hold one of ``originals``."""
    found = []
    for name, module in list(sys.modules.items()):
        if name == "facefusion" or name.startswith("facefusion."):
            for attr, value in list(vars(module).items()):
                if any(value is o for o in originals):
                    found.append((name, attr))
    return found


def test_every_reference_patched_and_restored(real):
    originals = [real["helper"].warp_face_by_face_landmark_5, real["helper"].paste_back,
                 real["masker"].create_box_mask]
    before = _holders(originals)
    names = {n for n, _ in before}
    assert "facefusion.face_recognizer" in names and "facefusion.face_classifier" in names
    assert "facefusion.processors.modules.face_swapper.core" in names
    assert len(names) >= 10
    ffa.install()
    assert _holders(originals) == []
    ffa.uninstall()
    assert sorted(_holders(originals)) == sorted(before)


def test_frame_functions_wrapped_with_stabilize(real):
    module_name = "facefusion.workflows.core" if real["version"] >= (3, 8) else "facefusion.workflows.image_to_video"
    module = importlib.import_module(module_name)
    original = module.process_temp_frame
    ffa.install(stabilize=True)
    assert module.process_temp_frame is not original
    assert module.process_temp_frame.__ffaccel_original__ is original
    if real["version"] >= (3, 8):
        to_video = importlib.import_module("facefusion.workflows.to_video")  # imported after install
        assert to_video.process_temp_frame is module.process_temp_frame
    ffa.uninstall()
    assert module.process_temp_frame is original


@pytest.mark.parametrize("crop", [128, 256, 512, 1024])
def test_real_helpers_byte_identical(real, crop):
    helper, masker = real["helper"], real["masker"]
    warp0, paste0, box0 = helper.warp_face_by_face_landmark_5, helper.paste_back, masker.create_box_mask
    rng = np.random.default_rng(crop)
    ffa.install()
    try:
        for i, template in enumerate(sorted(helper.WARP_TEMPLATE_SET)):
            shape = [(720, 1280), (1080, 1920)][i % 2]
            frame = cv2.GaussianBlur(rng.integers(0, 256, (*shape, 3), dtype=np.uint8), (0, 0), 1.5)
            size = rng.uniform(0.1, 0.5) * shape[0]
            base = np.array([[-0.3, -0.2], [0.3, -0.2], [0.0, 0.05], [-0.22, 0.3], [0.22, 0.3]])
            lm = base * size + rng.uniform([0, 0], [shape[1], shape[0]]) + rng.normal(0, 2, (5, 2))
            c0, m0 = warp0(frame, lm, template, (crop, crop))
            c1, m1 = helper.warp_face_by_face_landmark_5(frame, lm, template, (crop, crop))
            assert np.array_equal(m0, m1) and np.array_equal(c0, c1), template
            blur, pad = [0.0, 0.3, 0.5][i % 3], tuple(int(p) for p in rng.integers(0, 25, 4))
            b0, b1 = box0(c0, blur, pad), masker.create_box_mask(c0, blur, pad)
            assert np.array_equal(b0, b1)
            swapped = (c0[:, :, ::-1].astype(np.float32) * 0.9)[:, :, ::-1]
            mask = (b0 * rng.uniform(0.5, 1, b0.shape)).astype(np.float32)
            assert np.array_equal(paste0(frame, swapped, mask, m0), helper.paste_back(frame, swapped, mask, m0))
    finally:
        ffa.uninstall()


def test_raw_temp_png_patches_real_modules(real, tmp_path):
    """raw_temp_png=True: the real set_output / write_image are replaced (and only then), act on temp frames."""
    builder = importlib.import_module("facefusion.ffmpeg_builder")
    vision = importlib.import_module("facefusion.vision")
    state = importlib.import_module("facefusion.state_manager")
    temp_helper = importlib.import_module("facefusion.temp_helper")
    workflow = importlib.import_module("facefusion.workflows.to_video" if real["version"] >= (3, 8)
                                       else "facefusion.workflows.image_to_video")
    set_output, write_image = builder.set_output, vision.write_image
    assert workflow.write_image is write_image
    ffa.install()
    assert builder.set_output is set_output and workflow.write_image is write_image  # off by default
    ffa.install(raw_temp_png=True)
    try:
        assert builder.set_output is not set_output and builder.set_output.__ffaccel_original__ is set_output
        assert vision.write_image is not write_image and workflow.write_image is vision.write_image
        target = str(tmp_path / "clip.mp4")
        for key, value in (("target_path", target), ("temp_path", str(tmp_path / "tmp")),
                           ("temp_frame_format", "png")):
            state.init_item(key, value)
        pattern_fn = getattr(temp_helper, "get_temp_frame_pattern", None) or temp_helper.get_temp_frames_pattern
        pattern = pattern_fn(target, "%08d")
        assert builder.set_output(pattern) == ["-compression_level", "0", "-pred", "none", pattern]
        assert builder.set_output(str(tmp_path / "out.mp4")) == [str(tmp_path / "out.mp4")]
        os.makedirs(os.path.dirname(pattern), exist_ok=True)
        frame = cv2.GaussianBlur(np.random.default_rng(1).integers(0, 256, (60, 80, 3), np.uint8), (5, 5), 0)
        ours, stock = pattern.replace("%08d", "00000000"), str(tmp_path / "stock.png")
        assert workflow.write_image(ours, frame) and write_image(stock, frame)
        assert np.array_equal(cv2.imread(ours, cv2.IMREAD_UNCHANGED), cv2.imread(stock, cv2.IMREAD_UNCHANGED))
        assert os.path.getsize(ours) > os.path.getsize(stock)
    finally:
        ffa.uninstall()
    assert builder.set_output is set_output and vision.write_image is write_image
    assert workflow.write_image is write_image


def test_cli_hands_over_to_facefusion(real, tmp_path):
    """``python -m ffaccel.integrations.facefusion headless-run --help`` reaches FaceFusion's own parser."""
    if not os.path.isfile(os.path.join(real["src"], "facefusion.py")):
        pytest.skip("the FaceFusion source has no facefusion.py")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("ffmpeg", "ffprobe", "curl"):  # FaceFusion's pre_check looks for them
        if not any(os.access(os.path.join(d, tool), os.X_OK) for d in os.environ.get("PATH", "").split(os.pathsep)):
            (bin_dir / tool).write_text("#!/bin/sh\necho 'ffmpeg version 7.0'\n")
            (bin_dir / tool).chmod(0o755)
    env = dict(os.environ, PATH=str(bin_dir) + os.pathsep + os.environ.get("PATH", ""),
               PYTHONPATH=os.pathsep.join([*(p for p in sys.path if p), real["stubs"]]))
    proc = subprocess.run([sys.executable, "-m", "ffaccel.integrations.facefusion", "headless-run", "--help"],
                          cwd=real["src"], env=env, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "usage: facefusion.py headless-run" in proc.stdout and "--processors" in proc.stdout


class _Face:
    def __init__(self, landmark_5):
        self.landmark_set = {"5/68": landmark_5}


@pytest.mark.parametrize("boost", [128, 256, 512, 1024])
def test_real_face_swapper_flow_byte_identical(real, monkeypatch, boost):
    """FaceFusion's own swap_face (warp, box mask, pixel boost, normalisation, paste) with a stand-in model."""
    swapper = importlib.import_module("facefusion.processors.modules.face_swapper.core")
    state_manager = importlib.import_module("facefusion.state_manager")
    options = {"template": "arcface_128", "size": (128, 128), "type": "inswapper", "mean": [0.0, 0.0, 0.0],
               "standard_deviation": [1.0, 1.0, 1.0]}
    monkeypatch.setattr(swapper, "get_model_options", lambda: options)
    # the model: (1, 3, 128, 128) normalised crop in, (3, 128, 128) out, deterministic and not trivial
    monkeypatch.setattr(swapper, "forward_swap_face", lambda *args: (args[-1][0] * 0.85 + 0.05).astype(np.float32))
    for key, value in (("face_swapper_pixel_boost", f"{boost}x{boost}"), ("face_mask_types", ["box"]),
                       ("face_mask_blur", 0.3), ("face_mask_padding", [0, 5, 0, 5])):
        state_manager.init_item(key, value)
    takes_source_frame = "source_vision_frame" in __import__("inspect").signature(swapper.swap_face).parameters
    rng = np.random.default_rng(boost)
    rgba = np.dstack([cv2.GaussianBlur(rng.integers(0, 256, (1080, 1920, 3), dtype=np.uint8), (0, 0), 1.2),
                      np.full((1080, 1920), 255, np.uint8)])
    frame = rgba[:, :, :3]  # what FaceFusion 3.8 hands processors
    base = np.array([[-0.3, -0.2], [0.3, -0.2], [0.0, 0.05], [-0.22, 0.3], [0.22, 0.3]])

    def swap(face):
        if takes_source_frame:
            return swapper.swap_face(None, face, None, frame)
        return swapper.swap_face(None, face, frame)

    faces = [_Face(base * rng.uniform(80, 400) + rng.uniform([100, 100], [1820, 980])) for _ in range(3)]
    stock = [swap(face) for face in faces]
    ffa.install()
    try:
        got = [swap(face) for face in faces]
        assert ffa.installed_options()["fallbacks"] == 0  # every call went through ffaccel
    finally:
        ffa.uninstall()
    for a, b in zip(stock, got):
        assert a.dtype == b.dtype and np.array_equal(a, b)


def test_real_process_temp_frame_runs_processors_in_frame_scope(real, monkeypatch):
    """FaceFusion 3.8's workflows.core.process_temp_frame, run from 8 threads out of order."""
    if real["version"] < (3, 8):
        pytest.skip("process_temp_frame(target_vision_frames, temp_vision_frame, frame_number) is 3.8's")
    workflow = importlib.import_module("facefusion.workflows.core")
    seen: dict = {}

    class Processor:
        @staticmethod
        def process_frame(inputs):
            seen[int(inputs["temp_vision_frame"][0, 0, 0])] = ffa.current_frame()
            return inputs["temp_vision_frame"], inputs["temp_vision_mask"]

    for name, value in (("conditional_get_reference_vision_frame", lambda: None),
                        ("read_static_images", lambda paths: []),
                        ("conditional_get_source_audio_frame", lambda n: None),
                        ("conditional_get_source_voice_frame", lambda n: None),
                        ("get_processors_modules", lambda names: [Processor])):
        monkeypatch.setattr(workflow, name, value)
    ffa.install(stabilize=True)
    try:
        from concurrent.futures import ThreadPoolExecutor

        frames = {n: np.full((4, 4, 3), n, np.uint8) for n in range(40)}
        order = list(range(40))[::-1]
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(lambda n: workflow.process_temp_frame([], frames[n], frame_number=n), order))
    finally:
        ffa.uninstall()
    assert seen == {n: n for n in range(40)}
    assert ffa.current_frame() is None
