"""Colour science in one place, one step at a time: sRGB <-> linear light <-> CIE XYZ <-> CIE Lab.

Every colour formula of the Python side is written here once; the kernels' copy of the
per-pixel sRGB curve is ``kernels/include/ffaccel/color.h``. Functions work on arrays of
any shape, elementwise, with ``xp`` the array module (numpy on the host, cupy on the
GPU); a pixel's three channels are passed as three planes (a list, or any array whose
first index picks the plane), in BGR order as OpenCV and FaceFusion hold frames. Each
step keeps the dtype it is given (float32 stays float32: the constants are Python
floats), so callers choose the precision.

``exact=True`` (color_transfer's choice) replaces the library's ``**`` and ``cbrt`` with
:func:`ffaccel._portable.root`, made of basic IEEE operations in float64 and rounded
once to the given dtype, so numpy and cupy give the same bits (the library functions
differ in the last bits between libm, SIMD and CUDA). The cubes of the inverse are
products in every mode.

Steps:

1. :func:`srgb_to_linear`, :func:`linear_to_srgb`: the IEC 61966-2-1 transfer curve.
   :func:`decode_table` is that curve at the 256 uint8 codes, in float32;
   :func:`srgb_tables` the same curve evaluated to 50 digits, the table and code
   thresholds the kernels use (the two tables agree: tests/test_colorspace.py).
2. :func:`mix`: linear BGR -> X/Xn, Y/Yn, Z/Zn (white-normalised XYZ) and back, a 3x3
   product written out per plane (no BLAS, whose spinning threads compete with video
   decoding on small machines).
3. :func:`lab_f`, :func:`lab_from_f`, :func:`lab_to_xyzn`: normalised XYZ <-> CIE Lab.

Two sets of Lab constants are in use, and each caller keeps its own, because tests and
docs pin each and they differ by up to 2.3e-3 Lab units over all 2**24 uint8 colours:

- :data:`CIE`: the IEC 61966-2-1 matrix, the white point taken as its row sums (so sRGB
  white is exactly L = 100, a = b = 0), the exact CIE knee (6/29)**3, and
  ``L = 116 f(Y) - 16`` throughout. Used by the public :func:`ffaccel.quality.bgr_to_lab`,
  :func:`ffaccel.quality.mean_lab` and the QualityMonitor (docs/quality.md).
- :data:`OPENCV`: the float formula that ``cv2.cvtColor``'s documentation gives:
  OpenCV's matrix and white (0.950456, 1, 1.088754), knee 0.008856, slope 7.787 and
  ``L = 903.3 Y`` below the knee. Used by :func:`ffaccel.color_transfer`'s
  ``reinhard_lab`` (through ``ffaccel.ops.color_transfer.bgr_to_lab``, docs/blending.md).

Example:
    >>> import numpy as np
    >>> from ffaccel import _colorspace as cs
    >>> bgr = np.array([[0.0], [0.0], [1.0]])  # one red pixel, planes B, G, R, sRGB 0..1
    >>> xyz = cs.mix(np, cs.CIE.bgr_to_xyzn, cs.srgb_to_linear(np, bgr))
    >>> [round(float(v[0]), 2) for v in cs.lab_from_f(np, [cs.lab_f(np, t, cs.CIE) for t in xyz], xyz[1], cs.CIE)]
    [53.24, 80.09, 67.2]
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, localcontext
from typing import Any

import numpy as np

from ffaccel import _portable

__all__ = [
    "CIE",
    "OPENCV",
    "LabConvention",
    "bgr01_to_lab",
    "decode_table",
    "lab_f",
    "lab_from_f",
    "lab_to_bgr01",
    "lab_to_xyzn",
    "linear_bgr_to_lab",
    "linear_to_srgb",
    "mix",
    "mix_pixels",
    "srgb_tables",
    "srgb_to_linear",
]

# ---------------------------------------------------------------- 1. the sRGB transfer curve
# IEC 61966-2-1, as decimal strings so that the 50-digit table builder reads the same
# numbers as the array code (which turns them into Python floats).
_KNEE_ENCODED, _KNEE_LINEAR, _SLOPE, _OFFSET, _SCALE, _GAMMA = "0.04045", "0.0031308", "12.92", "0.055", "1.055", "2.4"


class _Scalar:
    """An ``xp`` for one Python number (the Decimal table builder): where and maximum."""

    @staticmethod
    def where(condition: bool, a: Any, b: Any) -> Any:
        return a if condition else b

    maximum = staticmethod(max)


def srgb_to_linear(xp: Any, s: Any, number: Callable[[str], Any] = float, *, exact: bool = False) -> Any:
    """sRGB-encoded values (0..1) to linear light: ``s <= 0.04045 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4``.

    Elementwise, in ``s``'s dtype; no clamping. ``number`` makes the constants (Python
    floats by default; the table builder passes ``Decimal``). ``exact``: the power as
    ``u**2 * root5(u**2)`` in float64 (same bits on numpy and cupy).

    Example:
        >>> import numpy as np
        >>> srgb_to_linear(np, np.array([0.0, 0.5, 1.0])).round(6)
        array([0.      , 0.214041, 1.      ])
    """
    knee, slope, offset, scale, gamma = (number(c) for c in (_KNEE_ENCODED, _SLOPE, _OFFSET, _SCALE, _GAMMA))
    base = (xp.maximum(s, knee) + offset) / scale
    if exact:
        u2 = base.astype(xp.float64)
        u2 = u2 * u2  # u**2.4 = u**2 * (u**2)**(1/5)
        return xp.where(s <= knee, s / slope, (u2 * _portable.root(xp, u2, 5)).astype(base.dtype))
    return xp.where(s <= knee, s / slope, base ** gamma)


def linear_to_srgb(xp: Any, v: Any, number: Callable[[str], Any] = float, *, exact: bool = False) -> Any:
    """Linear light (0..1) to sRGB encoding: ``v <= 0.0031308 ? 12.92 v : 1.055 v ** (1 / 2.4) - 0.055``.

    Elementwise, in ``v``'s dtype; no clamping. ``exact``: the power as
    ``cbrt(v) * sqrt(sqrt(cbrt(v)))`` in float64 (same bits on numpy and cupy).

    Example:
        >>> import numpy as np
        >>> linear_to_srgb(np, np.array([0.0, 0.214041, 1.0])).round(6)
        array([0. , 0.5, 1. ])
    """
    knee, slope, offset, scale, gamma = (number(c) for c in (_KNEE_LINEAR, _SLOPE, _OFFSET, _SCALE, _GAMMA))
    base = xp.maximum(v, knee)
    if exact:  # v**(1/2.4) = v**(5/12) = v**(1/3) * (v**(1/3))**(1/4)
        c = _portable.root(xp, base.astype(xp.float64), 3)
        power = (c * xp.sqrt(xp.sqrt(c))).astype(base.dtype)
    else:
        power = base ** (number("1") / gamma)
    return xp.where(v <= knee, v * slope, scale * power - offset)


@functools.lru_cache(maxsize=1)
def decode_table() -> np.ndarray:
    """(256,) float32: linear light of the uint8 codes, ``srgb_to_linear(v / 255)`` in float64 (read-only).

    Equal to the kernels' 50-digit table (``srgb_tables()[0]``), which takes longer to build.
    """
    table = srgb_to_linear(np, np.arange(256, dtype=np.float64) / 255.0).astype(np.float32)
    table.flags.writeable = False
    return table


def _nearest_float32(x: Decimal) -> np.float32:
    f = np.float32(float(x))  # within one float of the nearest; pick among the neighbours
    cands = [np.nextafter(f, np.float32(-1)), f, np.nextafter(f, np.float32(2))]
    return min(cands, key=lambda c: abs(Decimal(float(c)) - x))


def _ceil_float32(x: Decimal) -> np.float32:
    f = np.float32(float(x))
    while Decimal(float(f)) < x:
        f = np.nextafter(f, np.float32(2))
    while Decimal(float(np.nextafter(f, np.float32(-1)))) >= x:
        f = np.nextafter(f, np.float32(-1))
    return f


@functools.lru_cache(maxsize=1)
def srgb_tables() -> tuple[np.ndarray, np.ndarray]:
    """The two 256-entry float32 tables the kernels use, computed to 50 digits (read-only).

    ``table[v]`` is the float32 nearest to linear(v / 255). ``bound[k]`` (k = 1..255) is
    the smallest float32 >= linear((k - 0.5) / 255); a linear value l maps to the uint8
    code ``count(l >= bound[1:])``, which equals round(255 * srgb(l)) exactly.
    """
    table = np.empty(256, np.float32)
    bound = np.zeros(256, np.float32)
    with localcontext() as ctx:
        ctx.prec = 50
        for v in range(256):
            table[v] = _nearest_float32(srgb_to_linear(_Scalar, Decimal(v) / 255, Decimal))
        for k in range(1, 256):
            bound[k] = _ceil_float32(srgb_to_linear(_Scalar, Decimal(2 * k - 1) / 510, Decimal))
    table.flags.writeable = False
    bound.flags.writeable = False
    return table, bound


# ---------------------------------------------------------------- 2. linear BGR <-> normalised XYZ
def mix(xp: Any, m: Any, planes: Sequence[Any], out: Sequence[Any] | None = None) -> Sequence[Any]:
    """The 3x3 matrix ``m`` (float32) times three planes: ``out[r] = sum_k planes[k] * m[r, k]``, summed in k order.

    ``out`` (three planes, written in place) or a new list of three planes.
    """
    m = np.asarray(m, np.float32)
    result: list[Any] = []
    for r in range(3):
        if out is None:
            plane = planes[0] * m[r, 0]
            result.append(plane)
        else:
            plane = xp.multiply(planes[0], m[r, 0], out=out[r])
        plane += planes[1] * m[r, 1]
        plane += planes[2] * m[r, 2]
    return result if out is None else out


@dataclass(frozen=True)
class LabConvention:
    """The constants of one sRGB -> XYZ -> Lab conversion (see the module docstring).

    Attributes:
        name: ``"cie"`` or ``"opencv"``.
        rgb_to_xyz: (3, 3) float64 sRGB linear RGB -> XYZ matrix (rows X, Y, Z).
        white: (3,) the white point Xn, Yn, Zn.
        knee: t above which f(t) is the cube root.
        slope, offset: f(t) = slope * t + offset at and below the knee.
        kappa: L = kappa * Y/Yn at and below the knee, or None for L = 116 f(Y) - 16 throughout.
        bgr_to_xyzn, xyzn_to_bgr: float32 (3, 3): linear BGR <-> X/Xn, Y/Yn, Z/Zn (derived).
    """

    name: str
    rgb_to_xyz: np.ndarray
    white: np.ndarray
    knee: float
    slope: float
    offset: float
    kappa: float | None
    bgr_to_xyzn: np.ndarray = field(init=False, repr=False)
    xyzn_to_bgr: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        normalised = self.rgb_to_xyz[:, ::-1] / self.white[:, None]  # BGR columns, rows over the white
        object.__setattr__(self, "bgr_to_xyzn", normalised.astype(np.float32))
        object.__setattr__(self, "xyzn_to_bgr", np.linalg.inv(normalised).astype(np.float32))


_IEC_RGB_TO_XYZ = np.array([[0.4124564, 0.3575761, 0.1804375],
                            [0.2126729, 0.7151522, 0.0721750],
                            [0.0193339, 0.1191920, 0.9503041]])
CIE = LabConvention("cie", _IEC_RGB_TO_XYZ, _IEC_RGB_TO_XYZ.sum(axis=1),
                    knee=(6.0 / 29.0) ** 3, slope=1.0 / (3.0 * (6.0 / 29.0) ** 2), offset=4.0 / 29.0, kappa=None)
OPENCV = LabConvention("opencv",
                       np.array([[0.412453, 0.357580, 0.180423],
                                 [0.212671, 0.715160, 0.072169],
                                 [0.019334, 0.119193, 0.950227]]),
                       np.array([0.950456, 1.0, 1.088754]),
                       knee=0.008856, slope=7.787, offset=16.0 / 116.0, kappa=903.3)


# ---------------------------------------------------------------- 3. normalised XYZ <-> Lab
def lab_f(xp: Any, t: Any, c: LabConvention, *, exact: bool = False) -> Any:
    """The Lab companding function: ``t > knee ? cbrt(t) : slope * t + offset``, elementwise.

    ``exact``: the cube root from :func:`ffaccel._portable.root` in float64, rounded to
    ``t``'s dtype (same bits on numpy and cupy).
    """
    if exact:
        cube_root = _portable.root(xp, xp.maximum(t, c.knee).astype(xp.float64), 3).astype(t.dtype)
        return xp.where(t > c.knee, cube_root, t * c.slope + c.offset)
    if xp is not np:
        return xp.where(t > c.knee, xp.cbrt(t), t * c.slope + c.offset)
    # On the CPU most pixels are above the knee: take the cube root everywhere and patch
    # the few dark ones, rather than evaluating both branches for all.
    f = np.cbrt(t)
    dark = t <= c.knee
    if dark.any():
        f[dark] = t[dark] * c.slope + c.offset
    return f


def lab_from_f(xp: Any, f: Sequence[Any], y: Any, c: LabConvention) -> list[Any]:
    """L, a, b planes from f(X/Xn), f(Y/Yn), f(Z/Zn); ``y`` (Y/Yn) is read only when ``c.kappa`` is set.

    With ``c.kappa`` None, L, a and b are linear in the f planes, so means of f give the
    mean Lab (``ffaccel.quality.mean_lab`` relies on it).
    """
    lum = 116.0 * f[1] - 16.0
    if c.kappa is not None:
        lum = xp.where(y > c.knee, lum, c.kappa * y)
    return [lum, 500.0 * (f[0] - f[1]), 200.0 * (f[1] - f[2])]


def lab_to_xyzn(xp: Any, lab: Sequence[Any], c: LabConvention) -> list[Any]:
    """The inverse of :func:`lab_f` and :func:`lab_from_f`: X/Xn, Y/Yn, Z/Zn planes from L, a, b."""
    lum, a, b = lab[0], lab[1], lab[2]
    kappa = c.kappa if c.kappa is not None else 116.0 * c.slope
    f_knee = c.slope * c.knee + c.offset  # f at the knee: where the inverse switches branch
    g = (lum + 16.0) / 116.0
    y = xp.where(lum > kappa * c.knee, g * g * g, lum / kappa)  # cubes as products: the same bits everywhere
    fy = xp.where(lum > kappa * c.knee, g, y * c.slope + c.offset)

    def inverse(f: Any) -> Any:
        return xp.where(f > f_knee, f * f * f, (f - c.offset) / c.slope)

    return [inverse(fy + a / 500.0), y, inverse(fy - b / 200.0)]


# ---------------------------------------------------------------- whole conversions, pixels last
def _planes(pixels: Any) -> list[Any]:
    return [pixels[..., 0], pixels[..., 1], pixels[..., 2]]


def mix_pixels(xp: Any, m: Any, pixels: Any) -> Any:
    """(..., 3) pixels times the 3x3 matrix ``m`` (float32): :func:`mix` on the last axis."""
    return xp.stack(mix(xp, m, _planes(pixels)), axis=-1)


def bgr01_to_lab(xp: Any, bgr: Any, c: LabConvention, *, exact: bool = False) -> Any:
    """(..., 3) sRGB BGR 0..1 -> (..., 3) float32 L, a, b, in ``bgr``'s precision until the end."""
    return linear_bgr_to_lab(xp, srgb_to_linear(xp, bgr, exact=exact), c, exact=exact)


def linear_bgr_to_lab(xp: Any, linear: Any, c: LabConvention, *, exact: bool = False) -> Any:
    """(..., 3) linear-light BGR -> (..., 3) float32 L, a, b: :func:`bgr01_to_lab` after its first step."""
    xyz = mix(xp, c.bgr_to_xyzn, _planes(linear))
    f = [lab_f(xp, t, c, exact=exact) for t in xyz]
    return xp.stack(lab_from_f(xp, f, xyz[1], c), axis=-1).astype(xp.float32)


def lab_to_bgr01(xp: Any, lab: Any, c: LabConvention, *, exact: bool = False) -> Any:
    """(..., 3) L, a, b -> (..., 3) float32 sRGB BGR 0..1 (unclipped): the inverse of :func:`bgr01_to_lab`."""
    linear = mix(xp, c.xyzn_to_bgr, lab_to_xyzn(xp, _planes(lab), c))
    return linear_to_srgb(xp, xp.stack(linear, axis=-1), exact=exact).astype(xp.float32)
