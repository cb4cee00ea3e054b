"""ffaccel.opencv_compat: which compat mode reproduces which OpenCV release.

The version table is checked without OpenCV (fake modules); the installed cv2 is checked
against it where present. That each mode really matches its releases byte for byte is
tests/ops/test_warp_affine.py's and test_paste_back.py's job, run by tests/run.sh under every supported
release (docs/ops.md lists what was verified).
"""

from __future__ import annotations

import types

import pytest

from ffaccel.opencv_compat import (OpenCVVersionError, SUPPORTED_RANGE, compat_mode_for, installed_opencv,
                                   opencv_compat_mode, parse_version)


def _fake_cv2(version, ipp=False, features="SSE SSE2 SSE3 *SSE4.1 *SSE4.2 *AVX *FP16 *AVX2 *AVX512-SKX"):
    return types.SimpleNamespace(__version__=version, getCPUFeaturesLine=lambda: features,
                                 ipp=types.SimpleNamespace(useIPP=lambda: ipp))


@pytest.mark.parametrize("text, want", [("4.8.0", (4, 8, 0)), ("4.10.0-dev", (4, 10, 0)), ("5.1", (5, 1)),
                                        (" 4.12.0 ", (4, 12, 0))])
def test_parse_version_is_numeric(text, want):
    assert parse_version(text) == want


def test_versions_compare_as_numbers_not_strings():
    assert "4.10.0" < "4.9.0"  # the trap
    assert parse_version("4.10.0") > parse_version("4.9.0")
    assert compat_mode_for("4.10.0") == "opencv4" and compat_mode_for("4.9.0") == "opencv4"


@pytest.mark.parametrize("bad", ["", "five", "4", None])
def test_parse_version_rejects_garbage(bad):
    with pytest.raises(OpenCVVersionError, match="cv2.__version__"):
        parse_version(bad)


@pytest.mark.parametrize("version", ["4.8.0", "4.8.1", "4.9.0", "4.10.0", "4.11.0", "4.12.0", "4.13.0"])
def test_opencv4_releases(version):
    assert compat_mode_for(version) == "opencv4"
    assert compat_mode_for(version, ipp=True, avx2=False) == "opencv4"  # 4.x uses neither


def test_opencv5_0_needs_avx2():
    assert compat_mode_for("5.0.0") == "opencv5.0"
    with pytest.raises(OpenCVVersionError, match=r"5\.0\.0 without AVX2"):
        compat_mode_for("5.0.0", avx2=False)


def test_opencv5_1_only_with_ipp_off():
    assert compat_mode_for("5.1.0", ipp=False) == "opencv5.0"
    with pytest.raises(OpenCVVersionError, match=r"5\.1\.0 hands warpAffine to Intel IPP.*setUseIPP\(False\)"):
        compat_mode_for("5.1.0", ipp=True)


@pytest.mark.parametrize("version", ["4.7.0", "4.14.0", "5.2.0", "3.4.18", "6.0.0"])
def test_unverified_releases_are_refused_by_name(version):
    with pytest.raises(OpenCVVersionError, match=rf"OpenCV {version}: no compat mode") as info:
        compat_mode_for(version)
    assert SUPPORTED_RANGE in str(info.value)
    assert isinstance(info.value, ValueError)


def test_opencv_compat_mode_reads_the_module():
    assert opencv_compat_mode(_fake_cv2("4.12.0")) == "opencv4"
    assert opencv_compat_mode(_fake_cv2("5.1.0", ipp=False)) == "opencv5.0"
    with pytest.raises(OpenCVVersionError, match="IPP"):
        opencv_compat_mode(_fake_cv2("5.1.0", ipp=True))
    with pytest.raises(OpenCVVersionError, match="without AVX2"):
        opencv_compat_mode(_fake_cv2("5.0.0", features="SSE SSE2 SSE3 *SSE4.1 *SSE4.2 *AVX *FP16 *AVX2?"))


def test_facefusion_backend_refuses_exact_mode_without_a_matching_opencv():
    import ffaccel.ops
    from ffaccel.integrations.facefusion_backend import Backend

    with pytest.raises(ValueError, match="OpenCV 4.14.0"):
        Backend(ffaccel.ops, _fake_cv2("4.14.0"), "exact")
    fast = Backend(ffaccel.ops, _fake_cv2("4.14.0"), "fast")  # fast mode does not depend on OpenCV's bytes
    assert fast.generation is None and fast.warp_compat is None
    assert Backend(ffaccel.ops, _fake_cv2("4.12.0"), "exact").paste_compat == "facefusion-opencv4"


def test_installed_opencv_matches_the_table():
    info = installed_opencv()
    if not info["available"]:
        pytest.skip("cv2 not installed")
    if info["mode"] is None:
        assert str(info["version"]) in info["reason"]
    else:
        assert info["mode"] == compat_mode_for(info["version"], ipp=info["ipp"], avx2=info["avx2"])


def test_compat_opencv_under_5_1_with_ipp_refuses_clearly():
    """5.1 with IPP on (its default) has no mode: compat='opencv' says so and what to do.

    Run in a fresh interpreter without OPENCV_IPP, since tests/run.sh runs 5.1 with
    OPENCV_IPP=disabled (IPP cannot be switched back on inside such a process).
    """
    import os
    import subprocess
    import sys

    cv2 = pytest.importorskip("cv2")
    if parse_version(cv2.__version__)[:2] != (5, 1):
        pytest.skip(f"needs OpenCV 5.1, have {cv2.__version__}")
    script = r"""
import cv2, numpy as np, ffaccel
if not cv2.ipp.useIPP():
    print("NO-IPP"); raise SystemExit
for call in (lambda: ffaccel.warp_affine(np.zeros((8, 8, 3), np.uint8), np.eye(2, 3), (4, 4), compat="opencv"),
             lambda: ffaccel.paste_back(np.zeros((8, 8, 3), np.uint8), np.zeros((4, 4, 3), np.uint8),
                                        np.ones((4, 4), np.float32), np.eye(2, 3), compat="facefusion")):
    try:
        call()
        print("NO-ERROR")
    except ValueError as exc:
        print("ValueError:", exc)
"""
    env = {k: v for k, v in os.environ.items() if k != "OPENCV_IPP"}
    env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
    res = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    if res.stdout.strip() == "NO-IPP":
        pytest.skip("this OpenCV build has no IPP")
    lines = res.stdout.strip().splitlines()
    assert len(lines) == 2, res.stdout
    for line in lines:
        assert line.startswith("ValueError: compat: OpenCV 5.1") and "IPP" in line and "OPENCV_IPP=disabled" in line, line


def test_extras_allow_only_verified_releases():
    """Every OpenCV requirement in pyproject's extras is SUPPORTED_RANGE (run from a checkout)."""
    import os
    import re

    path = os.path.join(os.path.dirname(__file__), os.pardir, "pyproject.toml")
    if not os.path.exists(path):
        pytest.skip("pyproject.toml not beside the tests (installed package)")
    with open(path, encoding="utf-8") as f:
        text = f.read()
    reqs = re.findall(r'"opencv-python-headless([^"]*)"', text)
    assert reqs and all(r == SUPPORTED_RANGE for r in reqs), reqs


def test_supported_range_admits_exactly_the_verified_pip_releases():
    specifiers = pytest.importorskip("packaging.specifiers")
    spec = specifiers.SpecifierSet(SUPPORTED_RANGE)
    verified = ["4.8.0.76", "4.8.1.78", "4.9.0.80", "4.10.0.84", "4.11.0.86", "4.12.0.88", "4.13.0.92", "5.0.0.93"]
    refused = ["4.7.0.72", "4.14.0.94", "5.1.0.95", "5.2.0.1"]
    assert [v for v in verified + refused if v in spec] == verified


def test_info_prints_the_opencv_verdict(capsys):
    from ffaccel.cli import main

    assert main(["info"]) == 0
    out = capsys.readouterr().out
    info = installed_opencv()
    line = next(line for line in out.splitlines() if line.strip().startswith("opencv"))
    if not info["available"]:
        assert "not importable" in line
    else:
        assert info["version"] in line
        assert (repr(info["mode"]) in line) if info["mode"] else ("NO compat mode" in line)


_ISA_SCRIPT = r"""
import json, numpy as np, cv2, ffaccel
from ffaccel.opencv_compat import OpenCVVersionError, opencv_compat_mode
try:
    mode = opencv_compat_mode(cv2)
except OpenCVVersionError as exc:
    mode = "refused: " + str(exc)
rng = np.random.default_rng(11)
same = 0
for i in range(12):
    src = rng.integers(0, 256, (90, 120, 3), dtype=np.uint8) if i % 2 else rng.uniform(0, 255, (90, 120)).astype(np.float32)
    a = rng.uniform(-3, 3)
    m = np.array([[0.8 * np.cos(a), -0.8 * np.sin(a), 40.3], [0.8 * np.sin(a), 0.8 * np.cos(a), 20.7]])
    want = cv2.warpAffine(src, m, (77, 61), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    same += int(np.array_equal(ffaccel.warp_affine(src, m, (77, 61), compat="opencv5.0").reshape(want.shape), want))
print(json.dumps({"features": cv2.getCPUFeaturesLine(), "mode": mode, "same": same}))
"""


@pytest.mark.parametrize("disable, matches", [("", True), ("AVX512-SKX", True), ("AVX2", False)])
def test_opencv5_depends_on_avx2_only(disable, matches):
    """On this machine: OpenCV 5.x's warp is the AVX2 one with or without AVX-512, and
    differs without AVX2, where opencv_compat_mode refuses (OPENCV_CPU_DISABLE)."""
    import json
    import os
    import subprocess
    import sys

    cv2 = pytest.importorskip("cv2")
    if parse_version(cv2.__version__)[:2] not in ((5, 0), (5, 1)):
        pytest.skip(f"needs OpenCV 5.0 or 5.1, have {cv2.__version__}")
    features = cv2.getCPUFeaturesLine().split()
    if "*AVX2" not in features or (disable == "AVX512-SKX" and "*AVX512-SKX" not in features):
        pytest.skip(f"this CPU/OpenCV build lacks {disable or 'AVX2'} ({' '.join(features)})")
    env = dict(os.environ, OPENCV_CPU_DISABLE=disable, OPENCV_IPP="disabled",
               PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    res = subprocess.run([sys.executable, "-c", _ISA_SCRIPT], env=env, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout.strip().splitlines()[-1])
    if matches:
        assert out["mode"] == "opencv5.0" and out["same"] == 12, out
    else:
        assert out["mode"].startswith("refused") and "without AVX2" in out["mode"], out
        assert out["same"] < 12, out  # OpenCV's SSE loop really gives other bytes
