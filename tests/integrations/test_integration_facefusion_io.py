"""``install(raw_temp_png=True)``: uncompressed PNG temp frames, same pixels (no FaceFusion needed).

FaceFusion's ``state_manager`` and ``temp_helper`` are stood in for by two small modules
that answer what the replacements ask (the target path, the temp directory); the real
modules are exercised by test_integration_facefusion_real.py and, end to end, by
test_integration_facefusion_e2e.py.
"""

from __future__ import annotations

import os
import sys
import types
import zlib

import cv2
import numpy as np
import pytest

import ffaccel.integrations.facefusion as ffa
from ffaccel.integrations import facefusion_io as fio


@pytest.fixture()
def state(tmp_path, monkeypatch):
    """Stand-ins for facefusion.state_manager / temp_helper; the temp directory is tmp/facefusion/clip."""
    items = {"target_path": str(tmp_path / "in" / "clip.mp4")}
    sm = types.ModuleType("facefusion.state_manager")
    sm.get_item = items.get  # type: ignore[attr-defined]
    th = types.ModuleType("facefusion.temp_helper")
    th.get_temp_directory_path = (  # type: ignore[attr-defined]
        lambda p: os.path.join(str(tmp_path), "facefusion", os.path.splitext(os.path.basename(p))[0]))
    monkeypatch.setitem(sys.modules, "facefusion.state_manager", sm)
    monkeypatch.setitem(sys.modules, "facefusion.temp_helper", th)
    temp = tmp_path / "facefusion" / "clip"
    temp.mkdir(parents=True)
    return items, temp


def _frame(h=72, w=96, c=3, seed=0):
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 256, (h, w, c), dtype=np.uint8)
    return cv2.GaussianBlur(base, (5, 5), 0)  # smooth content: compressible, as video frames are


def _recorder():
    calls = []

    def original(*args, **kwargs):
        calls.append((args, kwargs))
        return "stock"

    return original, calls


def _idat_is_stored(data: bytes) -> bool:
    """True when every deflate block of the PNG's image data is a stored (uncompressed) block."""
    pos, idat = 8, b""
    while pos < len(data):
        n = int.from_bytes(data[pos:pos + 4], "big")
        kind = data[pos + 4:pos + 8]
        if kind == b"IDAT":
            idat += data[pos + 8:pos + 8 + n]
        pos += 12 + n
    raw = zlib.decompress(idat)
    # zlib header then deflate blocks; a stored block's 3 header bits are BFINAL + BTYPE=00
    body = idat[2:]
    off = 0
    while True:
        header = body[off]
        if (header >> 1) & 3 != 0:
            return False
        length = int.from_bytes(body[off + 1:off + 3], "little")
        off += 5 + length
        if header & 1:
            break
    return len(raw) > 0


def test_set_output_adds_png_options_only_for_temp_pattern(state, tmp_path):
    items, temp = state
    original, calls = _recorder()

    def set_output(path):
        calls.append(path)
        return [path]

    rep = fio.make_set_output(set_output, "facefusion.ffmpeg_builder")
    pattern = str(temp / "%08d.png")
    assert rep(pattern) == ["-compression_level", "0", "-pred", "none", pattern]
    # not a temp frame pattern: unchanged
    for other in (str(temp / "%08d.jpg"), str(tmp_path / "out" / "%08d.png"), str(temp / "temp.png"),
                  str(tmp_path / "out.mp4"), str(temp / "00000001.png")):
        assert rep(other) == [other]
    # no target in the state: unchanged
    items["target_path"] = None
    assert rep(pattern) == [pattern]


def test_write_image_uncompressed_same_pixels(state, tmp_path):
    items, temp = state
    original, calls = _recorder()
    rep = fio.make_write_image(original, "facefusion.workflows.to_video")
    for c in (3, 4):
        frame = _frame(c=c, seed=c)
        path = temp / f"0000000{c}.png"
        assert rep(str(path), frame) is True
        assert calls == []
        back = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
        assert back.dtype == np.uint8 and np.array_equal(back, frame)
        data = path.read_bytes()
        assert _idat_is_stored(data)
        # bigger than stock's default-compressed file, about the raw size
        stock = tmp_path / f"stock{c}.png"
        cv2.imwrite(str(stock), frame)
        assert len(data) > stock.stat().st_size
        assert len(data) >= frame.size
        assert np.array_equal(cv2.imread(str(stock), cv2.IMREAD_UNCHANGED), back)


def test_write_image_other_paths_go_to_stock(state, tmp_path):
    items, temp = state
    original, calls = _recorder()
    rep = fio.make_write_image(original, "facefusion.workflows.to_image")
    frame = _frame()
    others = [str(temp / "temp.png"), str(tmp_path / "00000001.png"), str(temp / "00000001.jpg"),
              str(tmp_path / "facefusion" / "other" / "00000001.png")]
    for p in others:
        assert rep(p, frame) == "stock"
    assert [c[0][0] for c in calls] == others
    assert not any(os.path.exists(p) for p in others)
    # extra arguments (a future signature) also go to stock
    assert rep(str(temp / "00000001.png"), frame, "x") == "stock"
    # no FaceFusion state: stock
    items["target_path"] = ""
    assert rep(str(temp / "00000002.png"), frame) == "stock"


def test_write_image_windows_goes_to_stock(state, monkeypatch):
    items, temp = state
    original, calls = _recorder()
    rep = fio.make_write_image(original, "facefusion.workflows.to_video")
    monkeypatch.setattr(fio.os, "name", "nt")
    assert rep(str(temp / "00000001.png"), _frame()) == "stock"
    assert len(calls) == 1


def test_temp_directory_without_facefusion(monkeypatch):
    monkeypatch.delitem(sys.modules, "facefusion.state_manager", raising=False)
    assert fio.temp_directory() is None
    assert not fio.is_temp_frame_path("/x/00000001.png", pattern=False)
    assert not fio.is_temp_frame_path(None, pattern=False)  # type: ignore[arg-type]


def test_install_option_validated_and_reported():
    with pytest.raises(TypeError, match="raw_temp_png: expected a bool"):
        ffa.install(raw_temp_png="yes")  # type: ignore[arg-type]
    assert not ffa.is_installed()
    try:
        assert ffa.install(raw_temp_png=True)
        assert ffa.installed_options()["raw_temp_png"] is True
        assert ffa.install()  # other arguments: a new installation
        assert ffa.installed_options()["raw_temp_png"] is False
    finally:
        ffa.uninstall()


def test_cli_option_parsed():
    opts, rest = ffa._parse_cli(["--ffaccel-raw-temp-png", "headless-run", "--x"])
    assert opts == {"raw-temp-png": "1"} and rest == ["headless-run", "--x"]
    opts, _ = ffa._parse_cli(["--ffaccel-raw-temp-png=0", "run"])
    assert opts == {"raw-temp-png": "0"}
    with pytest.raises(SystemExit, match="expected no value"):
        ffa._parse_cli(["--ffaccel-raw-temp-png=yes", "run"])
