"""Shared pytest setup: the `cuda` marker, GPU detection and the ``fw`` fixture.

GPU tests carry ``@pytest.mark.cuda`` (the ``tests/**/test_*_cuda.py`` files set ``pytestmark``).
Where no CUDA device is visible they are skipped (and reported as skipped, never as
passed); ``pytest -m cuda`` on a GPU machine runs exactly them. A test that takes an
argument ``fw`` runs once per GPU framework installed (``"cupy"``, ``"torch"``; see
``gpu.py`` for moving arrays to it and back).
"""

from __future__ import annotations

import os

import pytest
from gpu import frameworks


def _cuda_visible() -> bool:
    if os.environ.get("FFACCEL_FORCE_NO_CUDA"):
        return False
    try:
        import cupy

        return cupy.cuda.runtime.getDeviceCount() > 0
    except Exception:
        pass
    try:
        import torch

        return bool(torch.cuda.is_available())
    except Exception:
        return False


CUDA_VISIBLE = _cuda_visible()


@pytest.fixture(scope="session", params=frameworks())
def fw(request: pytest.FixtureRequest) -> str:
    """The GPU framework a CUDA test runs on: one run per installed framework (session
    scoped, so hypothesis's ``@given`` tests can take it)."""
    return str(request.param)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "cuda: needs a CUDA GPU (skipped where none is visible)")
    config.addinivalue_line("markers", "slow: long-running test")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if CUDA_VISIBLE:
        return
    skip = pytest.mark.skip(reason="no CUDA device visible")
    for item in items:
        if "cuda" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def opencv_mode():
    """``(cv2, mode)``: the installed cv2 and the compat mode that reproduces it.

    Skips (with the version and the reason) where cv2 is missing or no mode matches it
    (e.g. OpenCV 5.1 without ``OPENCV_IPP=disabled``: tests/run.sh sets it for 5.1).
    """
    cv2 = pytest.importorskip("cv2")
    from ffaccel.opencv_compat import OpenCVVersionError, opencv_compat_mode

    try:
        return cv2, opencv_compat_mode(cv2)
    except OpenCVVersionError as exc:
        pytest.skip(f"no compat mode for the installed OpenCV: {exc}")
