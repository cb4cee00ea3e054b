"""Fixtures shared by the distributed tests."""

from __future__ import annotations

import pytest

from ray_cluster import start_cpu_cluster


@pytest.fixture(scope="module")
def cluster(request):
    """The local 2-CPU Ray cluster of tests/ray_cluster.py for the requesting module, shut down after it."""
    ray = pytest.importorskip("ray")
    start_cpu_cluster(ray, request.module.__name__)
    yield
    ray.shutdown()
