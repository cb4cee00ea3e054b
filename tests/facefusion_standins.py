"""Stand-in ONNX models, inputs and ffmpeg for running FaceFusion end to end offline.

FaceFusion (3.5-3.8) loads its models from ``<checkout>/.assets/models/NAME.onnx`` and
accepts a file only when ``NAME.hash`` beside it holds ``format(zlib.crc32(bytes),
'08x')`` of the model's bytes (``facefusion.hash_helper``); otherwise it downloads.
:func:`build_models` writes, with the ``onnx`` package, one small model for every file the
default ``headless-run`` pipeline checks, each with its ``.hash``, so nothing is fetched.

What each stand-in computes (input and output names, shapes and dtypes are the ones
FaceFusion's code feeds and reads):

- ``yoloface_8n`` (detector): a nearest-neighbour lookup. The graph average-pools its
  (1, 3, 640, 640) input to a 3x32x32 fingerprint, finds the nearest row of a table of
  fingerprints of every image of the case (each clip frame and the source image), and
  returns that row's detections, (1, 20, 2) in YOLO layout (box centre/size, score, five
  x/y/visibility points). Anchor 0 is empty (FaceFusion's ``numpy.any(keep_indices)``
  skips a lone index 0); anchor 1 is the face. The landmarks are the clip's ground truth
  plus the demo's detector noise (:class:`ffaccel.demo.clip.NoiseModel`: Gaussian, 1.5 px
  at 1080p, 3 % outlier frames), drawn once when the model is built. The jitter is frozen
  into the table rather than drawn by a RandomNormal node at run time: a random node
  would give frame t different landmarks depending on which worker thread ran first,
  and stock and ffaccel runs could then not be compared byte for byte.
- ``2dfan4`` (68-point landmarker): a fixed mean-face layout in crop coordinates with an
  all-zero heatmap, i.e. confidence 0, so FaceFusion keeps the detector's 5 points
  (score below ``--face-landmarker-score``); it runs on every face as in stock.
- ``fan_68_5``: a fixed linear map from 5 to 68 points (affine weights fitted on
  ffaccel's frontal mean face).
- ``arcface_w600k_r50`` (recogniser): a constant 512-vector plus a small linear function
  of the crop's mean colour, so every face matches the reference face.
- ``fairface`` (classifier): arg-max of a fixed linear function of the crop's mean colour.
- ``nsfw_1/2/3`` (content analyser): constant outputs below every threshold (always
  passes).
- ``hyperswap_1a_256`` (FaceFusion's default swapper) and ``inswapper_128``: a cheap fixed
  function of the input, ``0.75 * target with channels reversed + 0.25 * tint(source
  embedding)``; inswapper's last initializer is its 512x512 embedding map, as FaceFusion
  reads it with ``onnx``.
- ``xseg_1``, ``bisenet_resnet_34``, ``kim_vocal_2``: placeholders (checked by FaceFusion's
  pre-check, never run by the default pipeline): mean of the input.

Nothing here is committed as a binary: the models are built at run time into a cache
folder. Needs ``onnx`` and numpy; :func:`render_case` also needs OpenCV and ffmpeg.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import zlib
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

#: Model files FaceFusion 3.5-3.8's default ``headless-run`` checks (and the alternative swapper).
MODEL_NAMES = ("yoloface_8n", "2dfan4", "fan_68_5", "arcface_w600k_r50", "fairface", "nsfw_1", "nsfw_2",
               "nsfw_3", "hyperswap_1a_256", "inswapper_128", "xseg_1", "bisenet_resnet_34", "kim_vocal_2")
DETECT_SIZE = 640  # FaceFusion's default --face-detector-size for yolo_face (640x640)
POOL = 20  # fingerprint pooling: 640 / 20 = 32 cells a side
_OPSET = 17
_IR_VERSION = 8


def facefusion_hash(data: bytes) -> str:
    """FaceFusion's model hash: ``format(zlib.crc32(data), '08x')`` (facefusion.hash_helper.create_hash)."""
    return format(zlib.crc32(data), "08x")


# ---- ONNX graph helpers ----------------------------------------------------------------------------

def _save(model, path: Path) -> None:
    import onnx

    model.ir_version = _IR_VERSION
    onnx.checker.check_model(model)
    data = model.SerializeToString()
    path.write_bytes(data)
    path.with_suffix(".hash").write_text(facefusion_hash(data))


def _model(nodes, inputs, outputs, inits, name):
    from onnx import helper

    graph = helper.make_graph(nodes, name, inputs, outputs, initializer=inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", _OPSET)], producer_name="ffaccel-standin")


def _t(name, array):
    from onnx import numpy_helper

    return numpy_helper.from_array(np.ascontiguousarray(array), name)


def _io(name, dtype, shape):
    from onnx import TensorProto, helper

    elem = {np.float32: TensorProto.FLOAT, np.int64: TensorProto.INT64}[dtype]
    return helper.make_tensor_value_info(name, elem, shape)


def _mean_colour(nodes, src="input", out="mean_colour"):
    """(1, 3, H, W) -> (1, 3) mean per channel."""
    from onnx import helper

    nodes.append(helper.make_node("ReduceMean", [src], [out], axes=[2, 3], keepdims=0))
    return out


def _zero_of_input(nodes, src="input", out="zero"):
    """A () float 0 that depends on the input (so every stand-in reads what it is given)."""
    from onnx import helper

    nodes.append(helper.make_node("ReduceMean", [src], [out + "_m"], keepdims=0))
    nodes.append(helper.make_node("Mul", [out + "_m", "zero_c"], [out]))
    return out


def _detector(fingerprints: np.ndarray, detections: np.ndarray):
    from onnx import helper

    k = fingerprints.shape[0]
    nodes = [
        helper.make_node("AveragePool", ["input"], ["pooled"], kernel_shape=[POOL, POOL], strides=[POOL, POOL]),
        helper.make_node("Reshape", ["pooled", "flat_shape"], ["flat"]),
        helper.make_node("Sub", ["table", "flat"], ["diff"]),
        helper.make_node("Mul", ["diff", "diff"], ["sq"]),
        helper.make_node("ReduceSum", ["sq", "axis1"], ["dist"], keepdims=0),
        helper.make_node("ArgMin", ["dist"], ["index"], axis=0, keepdims=1),
        helper.make_node("Gather", ["rows", "index"], ["output"], axis=0),
    ]
    inits = [_t("flat_shape", np.array([1, -1], np.int64)), _t("table", fingerprints.reshape(k, -1).astype(np.float32)),
             _t("axis1", np.array([1], np.int64)), _t("rows", detections.astype(np.float32))]
    return _model(nodes, [_io("input", np.float32, [1, 3, DETECT_SIZE, DETECT_SIZE])],
                  [_io("output", np.float32, [1, detections.shape[1], detections.shape[2]])], inits, "yoloface_standin")


def _const_outputs(input_shape, outputs: dict[str, np.ndarray], name: str):
    """Outputs = constants + 0 * mean(input)."""
    from onnx import helper

    nodes: list = []
    zero = _zero_of_input(nodes)
    inits = [_t("zero_c", np.array(0.0, np.float32))]
    outs = []
    for out_name, value in outputs.items():
        inits.append(_t(out_name + "_c", value.astype(np.float32)))
        nodes.append(helper.make_node("Add", [out_name + "_c", zero], [out_name]))
        outs.append(_io(out_name, np.float32, list(value.shape)))
    return _model(nodes, [_io("input", np.float32, list(input_shape))], outs, inits, name)


def _landmarker_2dfan4(layout64: np.ndarray):
    from onnx import helper

    nodes: list = []
    zero = _zero_of_input(nodes)
    pts = np.concatenate([layout64, np.ones((68, 1))], axis=1)[None].astype(np.float32)  # (1, 68, 3)
    nodes += [helper.make_node("Add", ["pts_c", zero], ["landmarks_xyscore"]),
              helper.make_node("ConstantOfShape", ["heat_shape"], ["heat0"],
                               value=helper.make_tensor("v", 1, [1], [0.0])),
              helper.make_node("Add", ["heat0", zero], ["heatmaps"])]
    inits = [_t("zero_c", np.array(0.0, np.float32)), _t("pts_c", pts),
             _t("heat_shape", np.array([1, 68, 64, 64], np.int64))]
    return _model(nodes, [_io("input", np.float32, [1, 3, 256, 256])],
                  [_io("landmarks_xyscore", np.float32, [1, 68, 3]), _io("heatmaps", np.float32, [1, 68, 64, 64])],
                  inits, "2dfan4_standin")


def _fan_68_5(weights: np.ndarray):
    from onnx import helper

    nodes = [helper.make_node("MatMul", ["w", "input"], ["output"])]
    return _model(nodes, [_io("input", np.float32, [1, 5, 2])], [_io("output", np.float32, [1, 68, 2])],
                  [_t("w", weights.astype(np.float32))], "fan_68_5_standin")


def _recognizer(rng: np.random.Generator):
    from onnx import helper

    nodes: list = []
    mean = _mean_colour(nodes)
    nodes += [helper.make_node("MatMul", [mean, "w"], ["lin"]), helper.make_node("Add", ["lin", "b"], ["output"])]
    base = rng.normal(0.0, 1.0, 512)
    inits = [_t("w", (0.02 * rng.normal(0.0, 1.0, (3, 512))).astype(np.float32)),
             _t("b", (base / np.linalg.norm(base) * 20.0).astype(np.float32))]
    return _model(nodes, [_io("input", np.float32, [1, 3, 112, 112])], [_io("output", np.float32, [1, 512])],
                  inits, "arcface_standin")


def _classifier(rng: np.random.Generator):
    from onnx import helper

    nodes: list = []
    mean = _mean_colour(nodes)
    inits, outs = [], []
    for out_name, classes in (("race_id", 7), ("gender_id", 2), ("age_id", 9)):
        nodes += [helper.make_node("MatMul", [mean, out_name + "_w"], [out_name + "_l"]),
                  helper.make_node("Add", [out_name + "_l", out_name + "_b"], [out_name + "_s"]),
                  helper.make_node("ArgMax", [out_name + "_s"], [out_name], axis=1, keepdims=0)]
        inits += [_t(out_name + "_w", rng.normal(0.0, 1.0, (3, classes)).astype(np.float32)),
                  _t(out_name + "_b", rng.normal(0.0, 1.0, classes).astype(np.float32))]
        outs.append(_io(out_name, np.int64, [1]))
    return _model(nodes, [_io("input", np.float32, [1, 3, 224, 224])], outs, inits, "fairface_standin")


def _swapper(size: int, rng: np.random.Generator, inswapper: bool):
    """0.75 * target[:, ::-1] + 0.25 * tint(source); in [-1, 1] (hyperswap) or [0, 1] (inswapper)."""
    from onnx import helper

    nodes = [
        helper.make_node("Gather", ["target", "rev"], ["target_rev"], axis=1),
        helper.make_node("MatMul", ["source_m" if inswapper else "source", "tint_w"], ["tint_l"]),
        helper.make_node("Tanh" if not inswapper else "Sigmoid", ["tint_l"], ["tint_a"]),
        helper.make_node("Reshape", ["tint_a", "tint_shape"], ["tint"]),
        helper.make_node("Mul", ["target_rev", "k75"], ["a"]),
        helper.make_node("Mul", ["tint", "k25"], ["b"]),
        helper.make_node("Add", ["a", "b"], ["output"]),
    ]
    inits = [_t("rev", np.array([2, 1, 0], np.int64)), _t("tint_w", rng.normal(0.0, 0.2, (512, 3)).astype(np.float32)),
             _t("tint_shape", np.array([1, 3, 1, 1], np.int64)), _t("k75", np.array(0.75, np.float32)),
             _t("k25", np.array(0.25, np.float32))]
    if inswapper:  # FaceFusion reads graph.initializer[-1] as the embedding map
        nodes.insert(0, helper.make_node("MatMul", ["source", "emap"], ["source_m"]))
        inits.append(_t("emap", (rng.normal(0.0, 1.0, (512, 512)) / np.sqrt(512)).astype(np.float32)))
    inputs = [_io("target", np.float32, [1, 3, size, size]), _io("source", np.float32, [1, 512])]
    return _model(nodes, inputs, [_io("output", np.float32, [1, 3, size, size])], inits,
                  "inswapper_standin" if inswapper else "hyperswap_standin")


def _placeholder(input_shape, name: str):
    from onnx import helper

    nodes = [helper.make_node("ReduceMean", ["input"], ["output"], keepdims=1)]
    return _model(nodes, [_io("input", np.float32, list(input_shape))],
                  [_io("output", np.float32, [1] * len(input_shape))], [], name)


def _template68() -> np.ndarray:
    from ffaccel.stability._face import project_template

    return np.asarray(project_template(), np.float64)


def _fan_weights() -> np.ndarray:
    """(68, 5) affine weights (rows sum to 1): template68 ~= W @ template5."""
    from ffaccel.demo.clip import five_from_68

    t68 = _template68()
    t5 = five_from_68(t68)
    a = np.vstack([t5.T, np.ones((1, 5))])  # (3, 5)
    b = np.vstack([t68.T, np.ones((1, 68))])  # (3, 68)
    w, *_ = np.linalg.lstsq(a, b, rcond=None)  # (5, 68), minimum norm
    return w.T


def _layout64() -> np.ndarray:
    """The mean face centred in 2dfan4's 256 crop (face ~195 px), in its 64-cell heatmap units."""
    t = _template68()
    lo, hi = t.min(axis=0), t.max(axis=0)
    scaled = (t - (lo + hi) / 2) * (160.0 / float((hi - lo).max())) + 128.0
    return scaled / 4.0


def build_models(models_dir: Path, fingerprints: np.ndarray, detections: np.ndarray, seed: int = 0) -> None:
    """Write every stand-in model and its ``.hash`` into ``models_dir`` (see the module docstring).

    Args:
        models_dir: FaceFusion's ``.assets/models`` (created).
        fingerprints: (K, 3, 32, 32) float32 detector fingerprints (:func:`fingerprint`).
        detections: (K, 20, 2) float32 YOLO outputs, one per fingerprint.
        seed: seed of the fixed random weights.
    """
    models_dir = Path(models_dir)
    models_dir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    ca_zero = np.zeros((1, 5, 16), np.float32)
    builders = {
        "yoloface_8n": lambda: _detector(fingerprints, detections),
        "2dfan4": lambda: _landmarker_2dfan4(_layout64()),
        "fan_68_5": lambda: _fan_68_5(_fan_weights()),
        "arcface_w600k_r50": lambda: _recognizer(rng),
        "fairface": lambda: _classifier(rng),
        "nsfw_1": lambda: _const_outputs([1, 3, 640, 640], {"output": ca_zero}, "nsfw_1_standin"),
        "nsfw_2": lambda: _const_outputs([1, 3, 384, 384], {"output": np.array([[0.0, 1.0]], np.float32)},
                                         "nsfw_2_standin"),
        "nsfw_3": lambda: _const_outputs([1, 3, 448, 448], {"output": np.zeros((1, 10), np.float32)},
                                         "nsfw_3_standin"),
        "hyperswap_1a_256": lambda: _swapper(256, rng, inswapper=False),
        "inswapper_128": lambda: _swapper(128, rng, inswapper=True),
        "xseg_1": lambda: _placeholder([1, 256, 256, 3], "xseg_placeholder"),
        "bisenet_resnet_34": lambda: _placeholder([1, 3, 512, 512], "bisenet_placeholder"),
        "kim_vocal_2": lambda: _placeholder([1, 4, 3072, 256], "kim_vocal_placeholder"),
    }
    for name in MODEL_NAMES:
        _save(builders[name](), models_dir / f"{name}.onnx")


# ---- the case: target clip, source face, detector table ------------------------------------------

def fingerprint(image_bgr: np.ndarray) -> np.ndarray:
    """(3, 32, 32) float32: what the stand-in detector pools from FaceFusion's yolo input.

    FaceFusion: ``restrict_frame`` (cv2.resize to fit 640x640 when larger), top-left into a
    zero 640x640 canvas, /255, CHW.
    """
    import cv2

    h, w = image_bgr.shape[:2]
    img = image_bgr[:, :, :3]
    if h > DETECT_SIZE or w > DETECT_SIZE:
        scale = min(DETECT_SIZE / h, DETECT_SIZE / w)
        img = cv2.resize(img, (int(w * scale), int(h * scale)))
    canvas = np.zeros((DETECT_SIZE, DETECT_SIZE, 3), np.float32)
    canvas[:img.shape[0], :img.shape[1]] = img
    canvas /= 255.0
    cells = DETECT_SIZE // POOL
    return canvas.reshape(cells, POOL, cells, POOL, 3).mean(axis=(1, 3)).transpose(2, 0, 1).astype(np.float32)


def detect_ratio(height: int, width: int) -> float:
    """Frame pixels per detector pixel (FaceFusion's ratio_width / ratio_height, equal here)."""
    if height > DETECT_SIZE or width > DETECT_SIZE:
        scale = min(DETECT_SIZE / height, DETECT_SIZE / width)
        return width / int(width * scale)
    return 1.0


def yolo_row(five: np.ndarray, box: tuple[float, float, float, float], ratio: float) -> np.ndarray:
    """(20, 2) YOLO output for one face at anchor 1 (frame pixels in, detector pixels out)."""
    x, y, w, h = box
    row = np.zeros((20, 2), np.float32)
    row[0:4, 1] = np.array([x + w / 2, y + h / 2, w, h]) / ratio
    row[4, 1] = 0.9
    for i in range(5):
        row[5 + 3 * i, 1] = five[i, 0] / ratio
        row[6 + 3 * i, 1] = five[i, 1] / ratio
        row[7 + 3 * i, 1] = 1.0
    return row


@dataclass
class Case:
    """An end-to-end case on disk.

    Attributes:
        root: its folder; target: the lossless target video (.mkv, FFV1); source: the source face (.png);
        models: the stand-in models folder; frames, width, height: the clip's size;
        truth5, noisy5: (T, 5, 2) ground-truth and detected (stand-in) landmarks per frame;
        face_width: (T,) width of the ground-truth 68-point face (jaw to jaw), px;
        missed: frames where the stand-in detector reports no face (score 0);
        cuts: frames that start a new shot (the first frame after a scene cut).
    """

    root: Path
    target: Path
    source: Path
    models: Path
    frames: int
    width: int
    height: int
    truth5: np.ndarray
    noisy5: np.ndarray
    face_width: np.ndarray
    missed: tuple[int, ...] = ()
    cuts: tuple[int, ...] = ()


#: peak vertical speed of the ``fast-nod`` motion, px/frame at 1080p (issue 13's fast nod: 10-25)
NOD_PEAK_PX = 20.0
NOD_PERIOD_FRAMES = 15


def _clip(frames: int, width: int, height: int, seed: int, motion: str):
    from ffaccel.demo.clip import ClipSpec, SyntheticClip

    if motion == "demo":
        return SyntheticClip(ClipSpec(frames=frames, width=width, height=height, seed=seed))
    if motion != "fast-nod":
        raise ValueError(f"motion: expected 'demo' or 'fast-nod', got {motion!r}")

    class NodClip(SyntheticClip):
        """The demo's motion plus a fast nod: a vertical sine peaking at NOD_PEAK_PX px/frame."""

        def _trajectory(self, centre):
            m = super()._trajectory(centre)
            t = np.arange(self.spec.frames)
            amplitude = NOD_PEAK_PX * self.unit * NOD_PERIOD_FRAMES / (2 * np.pi)
            m[:, 1, 2] += amplitude * np.sin(2 * np.pi * t / NOD_PERIOD_FRAMES)
            return m

    return NodClip(ClipSpec(frames=frames, width=width, height=height, seed=seed))


def render_case(root: Path, frames: int, width: int, height: int, ffmpeg: str, seed: int = 7,
                motion: str = "demo", missed: tuple[int, ...] = ()) -> Case:
    """Render the demo clip (``ffaccel.demo.clip``), encode it losslessly, build the stand-ins.

    ``motion="fast-nod"`` adds a fast nod to the demo's motion (see :data:`NOD_PEAK_PX`);
    on the frames in ``missed`` the stand-in detector finds no face (its score is 0, below
    any ``--face-detector-score``), as a real detector misses a blurred or occluded face.
    Cached: a second call with the same arguments reuses ``root/<key>`` when complete.
    """
    missed = tuple(sorted({int(f) for f in missed}))
    import cv2

    # the clip generator's own source is in the key: a cached case made before a change of
    # its motion or noise model would otherwise be reused (it was, once: a fast-nod case
    # rendered with the old independent noise was measured after the noise became rigid)
    import ffaccel.demo.clip as clip_module

    generator = hashlib.sha1(Path(clip_module.__file__).read_bytes()).hexdigest()[:12]
    key = hashlib.sha1(json.dumps([frames, width, height, seed, 3, generator] + ([motion] if motion != "demo" else [])
                                  + ([list(missed)] if missed else [])).encode()).hexdigest()[:12]
    case_dir = Path(root) / f"case-{width}x{height}-{frames}-{key}"
    target, source, models = case_dir / "target.mkv", case_dir / "source.png", case_dir / "models"
    clip = _clip(frames, width, height, seed, motion)
    case = Case(case_dir, target, source, models, frames, width, height, np.array(clip.truth5),
                np.array(clip.noisy5), np.ptp(np.asarray(clip.truth68)[:, :, 0], axis=1), missed)
    if (case_dir / "done").exists():
        return case
    shutil.rmtree(case_dir, ignore_errors=True)
    case_dir.mkdir(parents=True)
    cv2.imwrite(str(source), clip.source)
    with ffv1_writer(ffmpeg, target, width, height, clip.spec.fps) as write:
        table = detector_table(clip, write, missed)
    build_models(models, *table)
    (case_dir / "done").write_text("ok")
    return case


@contextmanager
def ffv1_writer(ffmpeg: str, target: Path, width: int, height: int, fps: float):
    """``write(frame)`` for (height, width, 3) uint8 BGR frames into ``target``, a lossless FFV1
    video; RuntimeError when ffmpeg fails."""
    cmd = [ffmpeg, "-loglevel", "error", "-y", "-f", "rawvideo", "-pix_fmt", "bgr24", "-s", f"{width}x{height}",
           "-r", str(int(fps)), "-i", "-", "-c:v", "ffv1", "-pix_fmt", "bgr0", str(target)]
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE)
    try:
        yield lambda frame: proc.stdin.write(np.ascontiguousarray(frame).tobytes())
    finally:
        proc.stdin.close()
        if proc.wait() != 0:
            raise RuntimeError(f"ffmpeg failed to encode {target}")


def detector_table(clip, sink, missed: tuple[int, ...] = ()) -> tuple[np.ndarray, np.ndarray]:
    """Render every frame of ``clip`` (``ffaccel.demo.clip.SyntheticClip``), hand it to
    ``sink(frame)`` (an encoder, a writer), and return the stand-in detector's table for
    :func:`build_models`: (K, 3, 32, 32) fingerprints and (K, 20, 2) YOLO rows, one per frame
    (the clip's noisy landmarks; score 0 on the frames in ``missed``) and one for the clip's
    source image."""
    height, width = clip.spec.height, clip.spec.width
    ratio = detect_ratio(height, width)
    fps, rows = [], []
    for t in range(clip.spec.frames):
        frame = clip.frame(t)
        sink(frame)
        fps.append(fingerprint(frame))
        rows.append(yolo_row(clip.noisy5[t], clip.face_box(t, margin=0.25), ratio))
        if t in missed:
            rows[-1][4, 1] = 0.0  # the face score: below every detector threshold
    fp, row = source_detection(clip.source)
    return np.stack(fps + [fp]), np.stack(rows + [row])


def source_detection(source: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(fingerprint, YOLO row) of the demo's source face image (``ffaccel.demo.clip``), whose
    five points are ``SOURCE_FIVE``: the detector table's entry for FaceFusion's source read."""
    from ffaccel.demo.clip import SOURCE_FIVE

    src_five = np.asarray(SOURCE_FIVE, np.float64)
    lo, hi = src_five.min(axis=0), src_five.max(axis=0)
    pad = (hi - lo) * 0.8
    sbox = (lo[0] - pad[0], lo[1] - pad[1], hi[0] - lo[0] + 2 * pad[0], hi[1] - lo[1] + 2 * pad[1])
    return fingerprint(source), yolo_row(src_five, sbox, detect_ratio(*source.shape[:2]))

