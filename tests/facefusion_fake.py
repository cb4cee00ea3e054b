"""A small stand-in for the ``facefusion`` package, written from FaceFusion's documented behaviour.

Only the parts the adapter touches: face_helper (template set, landmark warp, paste area,
paste back), face_masker (box mask), a recognizer and two processors that import the
helpers by name, and workflows.core.process_temp_frame(..., frame_number).
"""

from __future__ import annotations

import importlib
import sys
import textwrap
from pathlib import Path

FILES = {
    "facefusion/__init__.py": "",
    "facefusion/face_helper.py": '''
        import cv2
        import numpy

        # Five-point templates in units of the crop size (x, y): eyes, nose, mouth corners.
        WARP_TEMPLATE_SET = {
            "arcface_128": numpy.array([[0.3617, 0.4039], [0.6370, 0.4024], [0.5002, 0.5604],
                                        [0.3871, 0.7216], [0.6151, 0.7203]]),
            "ffhq_512": numpy.array([[0.3769, 0.4686], [0.6229, 0.4691], [0.5012, 0.6133],
                                     [0.3931, 0.7254], [0.6115, 0.7249]]),
        }


        def warp_face_by_face_landmark_5(temp_vision_frame, face_landmark_5, warp_template, crop_size):
            target_points = WARP_TEMPLATE_SET.get(warp_template) * crop_size
            matrix = cv2.estimateAffinePartial2D(face_landmark_5, target_points, method=cv2.RANSAC,
                                                 ransacReprojThreshold=100)[0]
            crop = cv2.warpAffine(temp_vision_frame, matrix, crop_size, borderMode=cv2.BORDER_REPLICATE,
                                  flags=cv2.INTER_AREA)
            return crop, matrix


        def calculate_paste_area(temp_vision_frame, crop_vision_frame, affine_matrix):
            frame_h, frame_w = temp_vision_frame.shape[:2]
            crop_h, crop_w = crop_vision_frame.shape[:2]
            inverse = cv2.invertAffineTransform(affine_matrix)
            corners = numpy.array([[0, 0], [crop_w, 0], [crop_w, crop_h], [0, crop_h]])
            mapped = cv2.transform(corners.reshape(-1, 1, 2), inverse).reshape(-1, 2)
            lo = numpy.floor(mapped.min(axis=0)).astype(int)
            hi = numpy.ceil(mapped.max(axis=0)).astype(int)
            x1, y1 = numpy.clip(lo, 0, [frame_w, frame_h])
            x2, y2 = numpy.clip(hi, 0, [frame_w, frame_h])
            paste_matrix = inverse.copy()
            paste_matrix[0, 2] -= x1
            paste_matrix[1, 2] -= y1
            return numpy.array([x1, y1, x2, y2]), paste_matrix


        def paste_back(temp_vision_frame, crop_vision_frame, crop_vision_mask, affine_matrix):
            (x1, y1, x2, y2), paste_matrix = calculate_paste_area(temp_vision_frame, crop_vision_frame,
                                                                  affine_matrix)
            size = (int(x2 - x1), int(y2 - y1))
            mask = cv2.warpAffine(crop_vision_mask, paste_matrix, size).clip(0, 1)[:, :, None]
            face = cv2.warpAffine(crop_vision_frame, paste_matrix, size, borderMode=cv2.BORDER_REPLICATE)
            result = temp_vision_frame.copy()
            area = result[y1:y2, x1:x2]
            result[y1:y2, x1:x2] = (area * (1 - mask) + face * mask).astype(result.dtype)
            return result
    ''',
    "facefusion/face_masker.py": '''
        import cv2
        import numpy


        def create_box_mask(crop_vision_frame, face_mask_blur, face_mask_padding):
            width, height = crop_vision_frame.shape[:2][::-1]
            blur_amount = int(width * 0.5 * face_mask_blur)
            blur_area = max(blur_amount // 2, 1)
            mask = numpy.ones((width, height)).astype(numpy.float32)
            top, right, bottom, left = face_mask_padding
            mask[:max(blur_area, int(height * top / 100)), :] = 0
            mask[-max(blur_area, int(height * bottom / 100)):, :] = 0
            mask[:, :max(blur_area, int(width * left / 100))] = 0
            mask[:, -max(blur_area, int(width * right / 100)):] = 0
            if blur_amount > 0:
                mask = cv2.GaussianBlur(mask, (0, 0), blur_amount * 0.25)
            return mask
    ''',
    "facefusion/face_recognizer.py": '''
        from facefusion.face_helper import warp_face_by_face_landmark_5


        def crop_for_embedding(frame, landmark_5):
            return warp_face_by_face_landmark_5(frame, landmark_5, "arcface_128", (112, 112))
    ''',
    "facefusion/processors/__init__.py": "",
    "facefusion/processors/modules/__init__.py": "",
    "facefusion/processors/modules/face_swapper/__init__.py": "",
    "facefusion/processors/modules/face_swapper/core.py": '''
        import numpy

        from facefusion.face_helper import paste_back, warp_face_by_face_landmark_5
        from facefusion.face_masker import create_box_mask


        def fake_model(crop):
            # Deterministic stand-in for the swap model: float32 output in 0..255, channel
            # order flipped back as the processors do (a non-contiguous view).
            rgb = crop[:, :, ::-1].astype(numpy.float32) / 255.0
            out = (0.8 * rgb + 0.1).clip(0, 1)
            return out[:, :, ::-1] * 255


        def swap_face(temp_vision_frame, face_landmark_5, crop_size=(256, 256), blur=0.3, padding=(0, 0, 0, 0)):
            crop, matrix = warp_face_by_face_landmark_5(temp_vision_frame, face_landmark_5, "arcface_128", crop_size)
            box = create_box_mask(crop, blur, padding)
            mask = numpy.minimum.reduce([box]).clip(0, 1)
            return paste_back(temp_vision_frame, fake_model(crop), mask, matrix)
    ''',
    "facefusion/processors/modules/face_enhancer/__init__.py": "",
    "facefusion/processors/modules/face_enhancer/core.py": '''
        from facefusion.face_helper import paste_back, warp_face_by_face_landmark_5
        from facefusion.face_masker import create_box_mask


        def enhance_face(temp_vision_frame, face_landmark_5):
            crop, matrix = warp_face_by_face_landmark_5(temp_vision_frame, face_landmark_5, "ffhq_512", (512, 512))
            mask = create_box_mask(crop, 0.3, (0, 0, 0, 0))
            return paste_back(temp_vision_frame, crop, mask, matrix)
    ''',
    "facefusion/workflows/__init__.py": "",
    "facefusion/workflows/core.py": '''
        import importlib

        from facefusion.processors.modules.face_swapper import core as face_swapper

        ENHANCE = False  # tests switch on a second processor


        def process_temp_frame(target_vision_frames, temp_vision_frame, frame_number):
            for landmark_5 in target_vision_frames:
                temp_vision_frame = face_swapper.swap_face(temp_vision_frame, landmark_5)
            if ENHANCE:
                face_enhancer = importlib.import_module("facefusion.processors.modules.face_enhancer.core")
                for landmark_5 in target_vision_frames:
                    temp_vision_frame = face_enhancer.enhance_face(temp_vision_frame, landmark_5)
            return temp_vision_frame
    ''',
}


def write_package(root: Path) -> Path:
    """Write the fake package under ``root`` and return ``root``."""
    for rel, text in FILES.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip())
    return root


def drop_modules() -> None:
    """Forget every imported ``facefusion`` module."""
    for name in [n for n in sys.modules if n == "facefusion" or n.startswith("facefusion.")]:
        del sys.modules[name]


def put_on_path(root: Path, monkeypatch) -> Path:
    """Write a fresh fake package under ``root`` and make it the importable ``facefusion``
    (earlier imports forgotten; ``monkeypatch`` takes the path entry away again)."""
    drop_modules()
    write_package(root)
    monkeypatch.syspath_prepend(str(root))
    importlib.invalidate_caches()
    return root
