"""Relative mode: temporal stability of an output clip measured against its target.

Real motion lowers tPSNR in the target (unswapped) clip as much as in the output, so
``ΔtPSNR = tPSNR(output) - tPSNR(target)`` at the same frame pair cancels it and
leaves what the swap added: negative values mean the output flickers more than the
target did at that moment.
"""

from __future__ import annotations

import math

__all__ = ["delta_tpsnr", "stability_verdict"]

# Changes smaller than this (dB) are reported as "unchanged".
_UNCHANGED_DB = 0.05


def delta_tpsnr(output_db: float, reference_db: float) -> float | None:
    """ΔtPSNR in dB for one frame pair: output minus reference.

    Identical pairs carry ``inf``: both identical gives 0.0 (both perfectly still);
    only one identical gives ``None`` (no finite difference exists), which callers
    count and leave out of the statistics.

    >>> delta_tpsnr(35.0, 38.5)
    -3.5
    >>> delta_tpsnr(float("inf"), float("inf"))
    0.0
    >>> delta_tpsnr(float("inf"), 40.0) is None
    True
    """
    for name, value in (("output_db", output_db), ("reference_db", reference_db)):
        if not isinstance(value, (int, float)) or math.isnan(value):
            raise ValueError(f"{name}: expected a number (inf allowed), got {value!r}")
    out_inf, ref_inf = math.isinf(output_db), math.isinf(reference_db)
    if out_inf and ref_inf:
        return 0.0
    if out_inf or ref_inf:
        return None
    return float(output_db - reference_db)


def stability_verdict(mean_delta_db: float | None) -> str:
    """One line saying how much temporal stability the output lost or gained.

    >>> stability_verdict(-1.234)
    'output lost 1.23 dB of temporal stability against the reference'
    >>> stability_verdict(0.5)
    'output gained 0.50 dB of temporal stability against the reference'
    """
    if mean_delta_db is None:
        return "no comparable frame pairs: stability change unknown"
    if abs(mean_delta_db) < _UNCHANGED_DB:
        return "temporal stability unchanged against the reference (within 0.05 dB)"
    word = "lost" if mean_delta_db < 0 else "gained"
    return f"output {word} {abs(mean_delta_db):.2f} dB of temporal stability against the reference"
