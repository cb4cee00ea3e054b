"""A stand-in inswapper_128.onnx and insightface Face objects for the adapter tests.

The model has INSwapper's interface: inputs ``target`` (1, 3, 128, 128) and ``source``
(1, 512), output (1, 3, 128, 128), and a 512 x 512 initializer last, which INSwapper
reads as ``emap``. Its output depends on both inputs (a colour shift from the latent,
a contrast change of the target), so every paste has real crop content.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

ARCFACE_128 = np.array([[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366], [41.5493, 92.3655],
                        [70.7299, 92.2041]]) + np.array([8.0, 0.0])


def build_model(path: Path, seed: int = 0) -> Path:
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(seed)
    w = (rng.standard_normal((512, 3)) * 2.0).astype(np.float32)
    emap = rng.standard_normal((512, 512)).astype(np.float32)
    inits = [
        numpy_helper.from_array(w, "w"),
        numpy_helper.from_array(np.array([1, 3, 1, 1], np.int64), "shape"),
        numpy_helper.from_array(np.array(3.0, np.float32), "gain"),
        numpy_helper.from_array(np.array(0.5, np.float32), "half"),
        numpy_helper.from_array(emap, "emap"),  # last: INSwapper's emap
    ]
    nodes = [
        helper.make_node("MatMul", ["source", "w"], ["lat3"]),
        helper.make_node("Reshape", ["lat3", "shape"], ["bias"]),
        helper.make_node("Sub", ["target", "half"], ["centred"]),
        helper.make_node("Mul", ["centred", "gain"], ["scaled"]),
        helper.make_node("Add", ["scaled", "bias"], ["pre"]),
        helper.make_node("Sigmoid", ["pre"], ["output"]),
    ]
    graph = helper.make_graph(
        nodes, "inswapper_standin",
        [helper.make_tensor_value_info("target", TensorProto.FLOAT, [1, 3, 128, 128]),
         helper.make_tensor_value_info("source", TensorProto.FLOAT, [1, 512])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, 3, 128, 128])],
        initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


def load_swapper(path: Path) -> object:
    import onnxruntime
    from insightface.model_zoo.inswapper import INSwapper

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return INSwapper(model_file=str(path), session=session)


def face_kps(center: tuple[float, float], size: float, angle_deg: float) -> np.ndarray:
    """5 points of a face whose 128-px crop footprint is `size` px wide, centred, rotated."""
    s = size / 128.0
    a = np.deg2rad(angle_deg)
    rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    return (ARCFACE_128 - 64.0) @ rot.T * s + np.asarray(center, np.float64)


def target_face(center: tuple[float, float], size: float, angle_deg: float, dtype: type = np.float32) -> object:
    from insightface.app.common import Face

    kps = face_kps(center, size, angle_deg).astype(dtype)
    half = size / 2
    bbox = np.array([center[0] - half, center[1] - half, center[0] + half, center[1] + half], np.float32)
    return Face(bbox=bbox, kps=kps, det_score=0.9)


def source_face(seed: int = 1) -> object:
    from insightface.app.common import Face

    return Face(embedding=np.random.default_rng(seed).standard_normal(512).astype(np.float32))
