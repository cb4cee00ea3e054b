"""Quality check of the blending ops on the synthetic cases (the figures in docs/blending.md).

1. Seam case (tests/blend_cases.seam_case, fixed seed): a crop that is the frame's own face
   region shifted in colour, pasted with a hard elliptical mask. For alpha, alpha +
   boundary_blend, multiband, cv2 MultiBandBlender, cv2 seamlessClone and colour transfer
   first: seam visibility (Lab gradient energy over a 3 px ring around the mask contour),
   Delta E inside the face (>= 8 px inside) against the scene (the frame) and against the
   swapped crop.
2. ffaccel multiband against cv2.detail_MultiBandBlender on the same inputs: PSNR over the
   frame and over the paste area.
3. Temporal colour flicker on a slowly relit noisy clip (tests/blend_cases.relit_clip):
   colour_transfer per frame with and without ColorTransferState.

    python benchmarks/quality_blend.py [--json out.json]
"""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests"))
import _timing  # noqa: E402
import blend_cases as bc  # noqa: E402

import ffaccel  # noqa: E402


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return 10 * np.log10(255.0**2 / max(mse, 1e-12))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    import cv2

    frame, crop, mask, m = bc.seam_case(np.random.default_rng(5))
    face = bc.face_mask_in_frame(frame, mask, m)
    ring, core = bc.seam_ring(face, 3), bc.face_core(face, 8)
    crop_in_frame = ffaccel.paste_back(frame, crop, np.ones_like(mask), m)
    ref = ffaccel.warp_affine(frame, m, crop.shape[1::-1])
    transferred = ffaccel.color_transfer(crop, ref, mask)
    alpha = ffaccel.paste_back(frame, crop, mask, m)
    results = {
        "frame alone (no paste)": frame,
        "alpha": alpha,
        "alpha + boundary_blend(width=4)": ffaccel.boundary_blend(alpha, face, 4),
        "multiband (levels=5)": ffaccel.paste_back(frame, crop, mask, m, blend="multiband"),
        "cv2 MultiBandBlender (5 bands)": bc.opencv_multiband_paste(cv2, frame, crop, mask, m, 5),
        "cv2 seamlessClone": bc.opencv_seamless_clone(cv2, frame, crop, mask, m),
        "color_transfer + alpha": ffaccel.paste_back(frame, transferred, mask, m),
        "color_transfer + multiband": ffaccel.paste_back(frame, transferred, mask, m, blend="multiband"),
    }
    rows = [{"method": k, "seam_energy": bc.seam_energy(v, ring), "dE_scene": bc.delta_e(v, frame, core),
             "dE_crop": bc.delta_e(v, crop_in_frame, core)} for k, v in results.items()]
    _timing.print_table("seam case (seed 5): lower seam energy = less visible seam", rows,
                        ["method", "seam_energy", "dE_scene", "dE_crop"])

    ours, theirs = results["multiband (levels=5)"], results["cv2 MultiBandBlender (5 bands)"]
    x1, y1, x2, y2 = bc.area_of(frame, crop, m)
    diff = np.abs(ours.astype(int) - theirs.astype(int))[y1:y2, x1:x2]
    agree = [{"psnr_frame_db": psnr(ours, theirs), "psnr_area_db": psnr(ours[y1:y2, x1:x2], theirs[y1:y2, x1:x2]),
              "max_abs_diff": int(diff.max()), "mean_abs_diff": float(diff.mean()),
              "alpha_vs_cv2_psnr_area_db": psnr(alpha[y1:y2, x1:x2], theirs[y1:y2, x1:x2])}]
    _timing.print_table("ffaccel multiband vs cv2 MultiBandBlender", agree, list(agree[0]))

    srcs, refs, cmask, ideal = bc.relit_clip(np.random.default_rng(6))
    want = [bc.masked_mean_lab(i, cmask) for i in ideal]
    flicker = []
    for label, state in (("per-frame statistics", None),
                         ("ColorTransferState(alpha=0.2, deadband=0.5)", ffaccel.ColorTransferState(0.2, 0.5)),
                         ("ColorTransferState(alpha=0.5, deadband=0.3)", ffaccel.ColorTransferState(0.5, 0.3))):
        means = [bc.masked_mean_lab(ffaccel.color_transfer(s, r, cmask, state=state, track=0), cmask)
                 for s, r in zip(srcs, refs)]
        flicker.append({"transfer": label, "flicker_dE": bc.temporal_flicker(means),
                        "mean_dE_to_clean_target": float(np.mean([np.linalg.norm(a - b) for a, b in zip(means, want)]))})
    flicker.append({"transfer": "clean target (no noise)", "flicker_dE": bc.temporal_flicker(want),
                    "mean_dE_to_clean_target": 0.0})
    _timing.print_table("temporal colour flicker, relit clip (seed 6, 48 frames)", flicker,
                        ["transfer", "flicker_dE", "mean_dE_to_clean_target"])
    _timing.save_json(args.json, {"seam_case": rows, "vs_opencv": agree, "flicker": flicker})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
