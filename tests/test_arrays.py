"""ffaccel._arrays without a GPU: how cupy gets torch's stream, with a stand-in cupy.

The GPU tests (tests/ops/*_cuda.py) run the real thing; these pin the rules that hold on
any machine: one wrapper per (device, stream), made with ``Stream.from_external`` (the CUDA
stream protocol) where cupy has it and ``ExternalStream`` before, and a bounded table."""

from __future__ import annotations

import types

import pytest

from ffaccel import _arrays


def fake_cupy(with_from_external: bool) -> tuple[types.SimpleNamespace, list]:
    made: list = []

    class Stream:
        pass

    if with_from_external:
        def from_external(obj):
            made.append(("from_external", obj.__cuda_stream__()))
            return object()

        Stream.from_external = staticmethod(from_external)

    def external_stream(ptr, device):
        made.append(("ExternalStream", ptr, device))
        return object()

    cuda = types.SimpleNamespace(Stream=Stream, ExternalStream=external_stream)
    return types.SimpleNamespace(cuda=cuda), made


@pytest.fixture(autouse=True)
def empty_table():
    saved = dict(_arrays._cupy_streams)
    _arrays._cupy_streams.clear()
    yield
    _arrays._cupy_streams.clear()
    _arrays._cupy_streams.update(saved)


@pytest.mark.parametrize("with_from_external", [True, False])
def test_one_wrapper_per_device_and_stream(with_from_external):
    cupy, made = fake_cupy(with_from_external)
    a = _arrays._cupy_stream(cupy, 0, 0x1000)
    assert _arrays._cupy_stream(cupy, 0, 0x1000) is a  # the same stream: made once
    b = _arrays._cupy_stream(cupy, 1, 0x1000)  # the same handle on another device
    c = _arrays._cupy_stream(cupy, 0, 0x2000)
    assert len({id(a), id(b), id(c)}) == 3
    if with_from_external:
        assert made == [("from_external", (0, 0x1000)), ("from_external", (0, 0x1000)),
                        ("from_external", (0, 0x2000))]
    else:
        assert made == [("ExternalStream", 0x1000, 0), ("ExternalStream", 0x1000, 1),
                        ("ExternalStream", 0x2000, 0)]


def test_the_table_stays_small():
    cupy, made = fake_cupy(True)
    for ptr in range(1, 1001):  # streams come and go
        _arrays._cupy_stream(cupy, 0, ptr)
    assert len(made) == 1000
    assert len(_arrays._cupy_streams) <= 256


def test_stream_handle_speaks_the_cuda_stream_protocol():
    assert _arrays._StreamHandle(0x1234).__cuda_stream__() == (0, 0x1234)
