"""One measured frame of a QualityMonitor (``FrameSample``): the data the monitor keeps and the reports read."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Box", "FrameSample"]

Box = tuple[int, int, int, int]


@dataclass(frozen=True)
class FrameSample:
    """Measurements at one sampled frame (the pair ``frame - 1`` -> ``frame``).

    Attributes:
        frame: 0-based index of the later frame of the pair.
        box: ``(x, y, w, h)`` pixel box measured, after clipping to the frame.
        tpsnr: PSNR in dB between the pair inside ``box``; ``inf`` if identical.
        lab: mean CIE L*a*b* (D65) of the frame inside ``box``.
        color_drift: CIE76 ΔE between ``lab`` and the first sample's ``lab``.
        sharpness: variance of the Laplacian of the luma inside ``box``.
        reference_tpsnr: the same pair's tPSNR in the reference clip, or None.
        delta_tpsnr: ``tpsnr - reference_tpsnr`` in dB (see ``relative.delta_tpsnr``),
            or None when not comparable or no reference.
    """

    frame: int
    box: Box
    tpsnr: float
    lab: tuple[float, float, float]
    color_drift: float
    sharpness: float
    reference_tpsnr: float | None = None
    delta_tpsnr: float | None = None
