"""ffaccel/_colorspace.py: the one colour-science module (sRGB <-> linear <-> XYZ <-> Lab)."""

from __future__ import annotations

import re
from decimal import Decimal, localcontext
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ffaccel import _colorspace as cs
from ffaccel.ops.color_transfer import bgr_to_lab as opencv_lab
from ffaccel.quality import bgr_to_lab as cie_lab
from strategies import examples

HEADER = Path(__file__).resolve().parents[1] / "kernels" / "include" / "ffaccel" / "color.h"


def _decimal_linear(s: float) -> Decimal:
    """The curve written out independently, to 50 digits."""
    with localcontext() as ctx:
        ctx.prec = 50
        d = Decimal(s)
        return d / Decimal("12.92") if d <= Decimal("0.04045") else ((d + Decimal("0.055")) / Decimal("1.055")) ** Decimal("2.4")


def test_float_table_equals_the_50_digit_table():
    table, _ = cs.srgb_tables()
    assert cs.decode_table().tobytes() == table.tobytes()


@settings(max_examples=examples(200), deadline=None)
@given(st.floats(0.0, 1.0))
def test_array_curve_matches_the_decimal_curve(s):
    want = float(_decimal_linear(s))
    assert float(cs.srgb_to_linear(np, np.float64(s))) == pytest.approx(want, rel=1e-14, abs=1e-300)
    assert float(cs.linear_to_srgb(np, np.float64(want))) == pytest.approx(s, rel=1e-12, abs=1e-15)


def test_header_and_numpy_curve_use_the_same_constants():
    text = HEADER.read_text(encoding="utf-8")
    for function, constants in (("srgb_to_linear_curve", {"0.04045", "12.92", "0.055", "1.055"}),
                                ("linear_to_srgb_curve", {"0.0031308", "12.92", "1.055", "0.055"})):
        body = text[text.index(f"FFACCEL_HD float {function}"):]
        body = body[:body.index("\n}\n")]
        assert set(re.findall(r"F\(([0-9.]+)\)", body)) == constants, function
        assert constants <= {cs._KNEE_ENCODED, cs._KNEE_LINEAR, cs._SLOPE, cs._OFFSET, cs._SCALE}


def test_mix_in_place_equals_mix():
    planes = np.random.default_rng(0).random((3, 1000)).astype(np.float32)
    out = np.empty_like(planes)
    cs.mix(np, cs.CIE.bgr_to_xyzn, planes, out=out)
    assert out.tobytes() == np.stack(cs.mix(np, cs.CIE.bgr_to_xyzn, planes)).tobytes()


@pytest.mark.parametrize("convention", [cs.CIE, cs.OPENCV], ids=lambda c: c.name)
def test_lab_round_trip_and_white(convention):
    rng = np.random.default_rng(1)
    bgr = rng.random((64, 64, 3)).astype(np.float32)
    bgr[0, :, :] = np.linspace(0, 0.05, 64)[:, None]  # the dark linear segments
    lab = cs.bgr01_to_lab(np, bgr, convention)
    np.testing.assert_allclose(cs.lab_to_bgr01(np, lab, convention), bgr, atol=2e-5)
    white = cs.bgr01_to_lab(np, np.ones((1, 1, 3), np.float32), convention)[0, 0]
    np.testing.assert_allclose(white, [100, 0, 0], atol=1e-4)


def test_the_two_conventions_differ_a_little():
    # Why both exist: the public quality Lab (CIE) and color_transfer's (OpenCV's formula)
    # are each pinned by tests and docs; over every third uint8 level per channel they
    # differ by more than the 1e-3 the colour-transfer tests hold, and by at most 2.3e-3.
    levels = np.arange(0, 256, 3, dtype=np.uint8)
    img = np.stack(np.meshgrid(levels, levels, levels, indexing="ij"), -1).reshape(len(levels) ** 2, -1, 3)
    diff = np.abs(cie_lab(img).astype(np.float64) - opencv_lab(img))
    assert 1e-3 < diff.max() <= 2.3e-3
