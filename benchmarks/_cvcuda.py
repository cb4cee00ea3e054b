"""CV-CUDA (``import cvcuda``, 0.19: ``pip install cvcuda-cu13``) as a peer in the GPU benchmarks.

Everything runs on torch's current stream (wrapped once with ``cvcuda.as_stream``) so the
CUDA events around each call time CV-CUDA's work like ffaccel's. Tensors are wrapped once,
outside the timed calls (``cvcuda.as_tensor(t, "HWC")``; "NHWC" over ``t[None]`` where a
build refuses the 3-D layout). The flags follow CV-CUDA's Python API
(python/mod_cvcuda/OpWarpAffine.cpp, OpComposite.cpp): ``warp_affine_into(dst, src,
xform, flags, *, border_mode, border_value, stream)`` with ``xform`` a host (2, 3) array,
``flags`` an ``Interp`` value (``| Interp.WARP_INVERSE_MAP`` when ``xform`` maps
destination to source), and ``composite_into(dst, foreground, background, fgmask, *,
stream)`` with 3-channel uint8 images and a 1-channel uint8 mask.
"""

from __future__ import annotations

import sys
from typing import Any

import numpy as np


def load() -> Any:
    """cvcuda, or None with a printed note."""
    try:
        import cvcuda
    except Exception as exc:  # ImportError, or a CUDA runtime mismatch at import
        print(f"cvcuda not importable ({type(exc).__name__}: {exc}): CV-CUDA rows skipped", file=sys.stderr)
        return None
    print(f"cvcuda {getattr(cvcuda, '__version__', '?')} imported", file=sys.stderr)
    return cvcuda


class CvCuda:
    """Pre-wrapped CV-CUDA calls on torch tensors."""

    def __init__(self, cvcuda: Any, torch: Any) -> None:
        self.cv = cvcuda
        self.torch = torch
        self.stream = cvcuda.as_stream(torch.cuda.current_stream())
        self.layout = "HWC"
        self.linear = int(cvcuda.Interp.LINEAR)
        self.inverse_linear = int(cvcuda.Interp.LINEAR) | int(cvcuda.Interp.WARP_INVERSE_MAP)

    def wrap(self, t: Any) -> Any:
        if t.ndim == 2:
            t = t[..., None]
        return self.cv.as_tensor(t, "HWC") if self.layout == "HWC" else self.cv.as_tensor(t[None], "NHWC")

    def warp_into(self, dst: Any, src: Any, xform: np.ndarray, *, inverse: bool = False,
                  replicate: bool = True) -> Any:
        """A zero-argument call of warp_affine_into on pre-wrapped tensors (checked once here)."""
        cv = self.cv
        flags = self.inverse_linear if inverse else self.linear
        border = cv.Border.REPLICATE if replicate else cv.Border.CONSTANT
        xf = np.ascontiguousarray(xform, np.float32)
        zero = [0.0]

        def make():
            d, s = self.wrap(dst), self.wrap(src)
            return lambda: cv.warp_affine_into(d, s, xf, flags, border_mode=border, border_value=zero,
                                               stream=self.stream)

        try:
            call = make()
            call()
        except Exception as exc:  # some builds take 4-D tensors only
            print(f"cvcuda HWC warp refused ({exc}); using NHWC", file=sys.stderr)
            self.layout = "NHWC"
            call = make()
            call()
        return call

    def composite_into(self, dst: Any, fg: Any, bg: Any, mask: Any) -> Any:
        cv = self.cv
        d, f, b, m = self.wrap(dst), self.wrap(fg), self.wrap(bg), self.wrap(mask)
        call = lambda: cv.composite_into(d, f, b, m, stream=self.stream)  # noqa: E731
        call()
        return call

    def paste(self, frame: Any, crop: Any, mask_u8: Any, matrix: np.ndarray, out: Any) -> Any:
        """CV-CUDA's cheapest paste-back: warp the crop and the mask into frame-sized
        buffers (``matrix`` is frame -> crop, so it is the inverse map of these warps;
        REPLICATE for the crop, CONSTANT 0 for the mask) and composite over the frame."""
        torch = self.torch
        h, w = frame.shape[:2]
        fg = torch.empty_like(frame)
        alpha = torch.empty((h, w, 1), dtype=torch.uint8, device=frame.device)
        warp_crop = self.warp_into(fg, crop, matrix, inverse=True, replicate=True)
        warp_mask = self.warp_into(alpha, mask_u8, matrix, inverse=True, replicate=False)
        comp = self.composite_into(out, fg, frame, alpha)

        def call():
            warp_crop()
            warp_mask()
            comp()

        return call
