"""Which ``compat`` mode reproduces the installed OpenCV's ``warpAffine`` byte for byte.

One place for every "which OpenCV do we match" decision: :func:`warp_affine` and
:func:`paste_back` with ``compat="opencv"`` / ``"facefusion"``, the FaceFusion and
insightface adapters, the demo and ``ffaccel info`` all call :func:`opencv_compat_mode`.

What was verified (docs/ops.md, "OpenCV releases"; ``benchmarks/verify_opencv_matrix.py``
re-runs it), for ``cv2.warpAffine(..., INTER_LINEAR)`` with BORDER_REPLICATE and
BORDER_CONSTANT on uint8 (1, 3, 4 channels) and float32 (1, 3 channels):

* 4.8 - 4.13: fixed-point coordinates in 1/32 px, the same on every CPU: ``"opencv4"``.
* 4.14: float32 single-channel images changed (a new vector loop sums the four weighted
  taps in another order); no mode reproduces it yet, so 4.14 is refused.
* 5.0: float coordinates and fused lerps, vector loop 16 columns wide on CPUs with AVX2
  (AVX-512 does not change it): ``"opencv5.0"``. Without AVX2 OpenCV runs another loop
  width, so 5.0 without AVX2 is refused.
* 5.1: OpenCV's own kernels are those of 5.0, but by default ``warpAffine`` is handed to
  Intel IPP (``cv2.ipp.useIPP()``), whose closed arithmetic is not reproduced. With IPP
  off 5.1 gives exactly the 5.0 bytes and maps to ``"opencv5.0"``; with IPP on it is
  refused, with that advice. Turn IPP off for the whole process with the environment
  variable ``OPENCV_IPP=disabled`` set before cv2 is imported: ``cv2.ipp.setUseIPP(False)``
  only affects the calling thread (OpenCV keeps the flag per thread), so FaceFusion's
  worker threads would still use IPP.

Example:
    >>> from ffaccel.opencv_compat import compat_mode_for
    >>> compat_mode_for("4.12.0")
    'opencv4'
    >>> compat_mode_for("5.1.0", ipp=False, avx2=True)
    'opencv5.0'
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["OpenCVVersionError", "parse_version", "compat_mode_for", "opencv_compat_mode", "installed_opencv",
           "SUPPORTED_RANGE"]

#: Releases with a verified mode, as a pip requirement (kept equal to pyproject's extras).
SUPPORTED_RANGE = ">=4.8,!=4.14.*,<5.1"


class OpenCVVersionError(ValueError):
    """The installed OpenCV (or its configuration) has no byte-identical compat mode."""


def parse_version(text: str) -> tuple[int, ...]:
    """Numeric release tuple of an OpenCV version string: ``"4.10.0-dev"`` -> ``(4, 10, 0)``.

    Compare these tuples, never the strings (``"4.10" < "4.9"`` as strings).

    Raises:
        OpenCVVersionError: no leading ``major.minor``.
    """
    m = re.match(r"\s*(\d+)\.(\d+)(?:\.(\d+))?", str(text))
    if not m:
        raise OpenCVVersionError(f"cv2.__version__: expected 'major.minor[.patch]', got {text!r}")
    return tuple(int(g) for g in m.groups() if g is not None)


def compat_mode_for(version: str, *, ipp: bool = False, avx2: bool = True) -> str:
    """The compat mode for OpenCV ``version`` under the given runtime configuration.

    Args:
        version: ``cv2.__version__``.
        ipp: whether OpenCV hands ``warpAffine`` to Intel IPP (``cv2.ipp.useIPP()``, a
            per-thread flag); only matters for 5.1.
        avx2: whether OpenCV's dispatcher runs its AVX2 kernels (``cv2.getCPUFeaturesLine()``
            lists ``*AVX2`` without ``?``); only matters for 5.x.

    Returns:
        ``"opencv4"`` or ``"opencv5.0"``.

    Raises:
        OpenCVVersionError: no mode reproduces that release or configuration; the message
            names the version and what to do.
    """
    v = parse_version(version)
    major_minor = v[:2]
    if (4, 8) <= major_minor <= (4, 13):
        return "opencv4"
    if major_minor in ((5, 0), (5, 1)):
        if not avx2:
            raise OpenCVVersionError(
                f"OpenCV {version} without AVX2 runs warpAffine kernels that ffaccel does not reproduce "
                "(modes are verified on x86-64 CPUs with AVX2)")
        if major_minor == (5, 1) and ipp:
            raise OpenCVVersionError(
                f"OpenCV {version} hands warpAffine to Intel IPP, which ffaccel does not reproduce byte for byte; "
                "set OPENCV_IPP=disabled in the environment before cv2 is imported (OpenCV then gives the 5.0 "
                "bytes, compat 'opencv5.0'; cv2.ipp.setUseIPP(False) only affects the calling thread), "
                "or install a verified release: pip install \"opencv-python-headless" + SUPPORTED_RANGE + "\"")
        return "opencv5.0"
    raise OpenCVVersionError(
        f"OpenCV {version}: no compat mode has been verified for this release; verified are 4.8-4.13, 5.0 and "
        f"5.1 with IPP off. Install one: pip install \"opencv-python-headless{SUPPORTED_RANGE}\", "
        "or pass an explicit compat mode")


def _runtime(cv2: Any) -> tuple[bool, bool]:
    """(IPP used by warpAffine, AVX2 kernels dispatched) for an imported cv2."""
    ipp_mod = getattr(cv2, "ipp", None)
    ipp = bool(ipp_mod.useIPP()) if ipp_mod is not None and hasattr(ipp_mod, "useIPP") else False
    line = cv2.getCPUFeaturesLine() if hasattr(cv2, "getCPUFeaturesLine") else ""
    avx2 = any(tok == "*AVX2" or tok == "AVX2" for tok in line.split())
    return ipp, avx2


def opencv_compat_mode(cv2: Any = None) -> str:
    """The compat mode matching the installed (or given) ``cv2`` module, as it is configured now.

    This is the helper every adapter uses to pick its mode.

    Args:
        cv2: an imported ``cv2`` module; ``None`` imports it.

    Returns:
        ``"opencv4"`` or ``"opencv5.0"`` (see :func:`compat_mode_for`).

    Raises:
        OpenCVVersionError: cv2 is not importable, or no mode matches its version or
            configuration (the message names the version).

    Example:
        >>> import ffaccel.opencv_compat as oc
        >>> oc.opencv_compat_mode() in ("opencv4", "opencv5.0")  # doctest: +SKIP
        True
    """
    if cv2 is None:
        try:
            import cv2
        except ImportError:
            raise OpenCVVersionError(
                "cv2 is not importable: compat 'opencv' follows the installed OpenCV; pass an explicit mode "
                "('opencv4' or 'opencv5.0') or pip install \"ffaccel[opencv]\"") from None
    ipp, avx2 = _runtime(cv2)
    return compat_mode_for(str(cv2.__version__), ipp=ipp, avx2=avx2)


def installed_opencv() -> dict[str, Any]:
    """What ``ffaccel info`` prints: the installed OpenCV and whether a compat mode matches it.

    Returns:
        ``{"available": False, "error": str}`` without cv2, else ``{"available": True,
        "version": str, "ipp": bool, "avx2": bool, "mode": str | None, "reason": str | None}``.
    """
    try:
        import cv2
    except ImportError as exc:
        return {"available": False, "error": str(exc)}
    ipp, avx2 = _runtime(cv2)
    info: dict[str, Any] = {"available": True, "version": str(cv2.__version__), "ipp": ipp, "avx2": avx2,
                            "mode": None, "reason": None}
    try:
        info["mode"] = compat_mode_for(info["version"], ipp=ipp, avx2=avx2)
    except OpenCVVersionError as exc:
        info["reason"] = str(exc)
    return info
