"""The offline bundle of the FaceFusion end-to-end benchmark (benchmarks/ffe2e_bundle.py and
benchmarks/ffe2e_offline.py): a small bundle built here with the same packing functions is
checked, unpacked and installed without an index, and damaged or redirected input is refused.
No network, no FaceFusion, no ffmpeg needed."""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import io
import json
import os
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _load(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


bundle_mod = _load("ffe2e_bundle")
offline = _load("ffe2e_offline")


def _wheel(path: Path, package: str, version: str) -> None:
    """A minimal pure-Python wheel of ``package`` (its __init__ holds VERSION)."""
    dist = f"{package}-{version}.dist-info"
    files = {f"{package}/__init__.py": f"VERSION = {version!r}\n".encode(),
             f"{dist}/METADATA": f"Metadata-Version: 2.1\nName: {package}\nVersion: {version}\n".encode(),
             f"{dist}/WHEEL": b"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"}
    record = []
    for name, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{name},sha256={digest},{len(data)}")
    record.append(f"{dist}/RECORD,,")
    files[f"{dist}/RECORD"] = ("\n".join(record) + "\n").encode()
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in files.items():
            z.writestr(name, data)


def _make_bundle(tmp: Path, package: str) -> Path:
    """A bundle as ffe2e_bundle.py writes it: one FaceFusion-like tree, two 'binaries', one wheel as xz."""
    dest = tmp / "bundle"
    dest.mkdir()
    files = []

    def add(path: Path, role: str, **extra) -> None:
        files.append({"name": path.name, "role": role, "bytes": path.stat().st_size,
                      "sha256": bundle_mod.sha256(path), **extra})

    src = tmp / "ff"
    (src / "facefusion").mkdir(parents=True)
    (src / "facefusion" / "metadata.py").write_text("METADATA = {\n\t'version': '9.9.9',\n}\n")
    (src / "facefusion.py").write_text("print('ok')\n")
    (src / "facefusion" / "__pycache__").mkdir()
    (src / "facefusion" / "__pycache__" / "x.pyc").write_bytes(b"stale")
    assert bundle_mod.facefusion_version(src) == "9.9.9"
    out = dest / "facefusion-9.9.9.tar.xz"
    bundle_mod.tar_tree(src, "facefusion-9.9.9", out)
    add(out, "facefusion", version="9.9.9")

    wheel = tmp / f"{package}-1.2.3-py3-none-any.whl"
    _wheel(wheel, package, "1.2.3")
    stored = tmp / "stored" / wheel.name
    stored.parent.mkdir()
    bundle_mod.stored_copy(wheel, stored)
    out = dest / (wheel.name + ".xz")
    bundle_mod.xz_file(stored, out)
    add(out, "wheel-xz", wheel=wheel.name, original_sha256=bundle_mod.sha256(wheel),
        stored_sha256=bundle_mod.sha256(stored))

    raw = io.BytesIO()
    binaries = {}
    with tarfile.open(fileobj=raw, mode="w") as tar:
        for name in ("ffmpeg", "ffprobe"):
            data = f"#!/bin/sh\necho {name} version test\n".encode()
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o755
            tar.addfile(info, io.BytesIO(data))
            binaries[name] = {"wheel": "test.whl", "member": name, "sha256": hashlib.sha256(data).hexdigest()}
    out = dest / "ffbin.tar.xz"
    import lzma

    with lzma.open(out, "wb", format=lzma.FORMAT_XZ, filters=bundle_mod.BIN_FILTERS) as f:
        f.write(raw.getvalue())
    add(out, "binaries", binaries=binaries)
    (dest / "MANIFEST.json").write_text(json.dumps({"files": files, "python_packages": [[f"{package}==1.2.3",
                                                                                          package]]}))
    return dest


def test_stored_copy_keeps_every_member(tmp_path):
    wheel = tmp_path / "a-1.0-py3-none-any.whl"
    _wheel(wheel, "a", "1.0")
    stored = tmp_path / "stored.whl"
    bundle_mod.stored_copy(wheel, stored)
    with zipfile.ZipFile(wheel) as z1, zipfile.ZipFile(stored) as z2:
        assert z1.namelist() == z2.namelist()
        for name in z1.namelist():
            assert z1.read(name) == z2.read(name)
            assert z2.getinfo(name).compress_type == zipfile.ZIP_STORED


def test_bundle_unpacks_and_installs_without_index(tmp_path):
    package = "ffe2e_probe_pkg"
    bundle = _make_bundle(tmp_path, package)
    manifest = offline.check_bundle(bundle)
    work = tmp_path / "work"
    for sub in ("src", "bin", "wheels", "site"):
        (work / sub).mkdir(parents=True)
    # a link left at a binary's name (another run's) must not redirect the extraction
    elsewhere = tmp_path / "elsewhere"
    elsewhere.write_text("keep")
    os.symlink(elsewhere, work / "bin" / "ffmpeg")
    logs = []
    sources = offline.unpack(bundle, manifest, work, logs.append)
    assert sources == {"9.9.9": work / "src" / "facefusion-9.9.9"}
    assert (sources["9.9.9"] / "facefusion.py").read_text() == "print('ok')\n"
    assert not (sources["9.9.9"] / "facefusion" / "__pycache__").exists()
    assert elsewhere.read_text() == "keep"
    for name in ("ffmpeg", "ffprobe"):
        path = work / "bin" / name
        assert not path.is_symlink() and os.access(path, os.X_OK)
        assert subprocess.run([str(path)], capture_output=True, text=True).stdout == f"{name} version test\n"
    assert len(logs) == 3
    # a second call finds everything done
    logs.clear()
    assert offline.unpack(bundle, manifest, work, logs.append) == sources
    assert logs == []
    # pip with --no-index, into work/site; nothing else on the path provides the package
    origin = offline.install_missing(manifest, work, logs.append)
    assert origin == {package: f"{package}==1.2.3 (bundle)"}
    out = subprocess.run([sys.executable, "-c", f"import {package}; print({package}.VERSION, {package}.__file__)"],
                         env={**os.environ, "PYTHONPATH": str(work / "site")}, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    version, where = out.stdout.split()
    assert version == "1.2.3" and Path(where).is_relative_to(work / "site")
    # installed once: a second call does not run pip again
    logs.clear()
    assert offline.install_missing(manifest, work, logs.append) == origin
    assert logs == []


def test_damaged_or_missing_files_are_refused(tmp_path):
    bundle = _make_bundle(tmp_path, "ffe2e_probe_pkg2")
    offline.check_bundle(bundle)
    target = bundle / "ffbin.tar.xz"
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 0xFF
    target.write_bytes(bytes(data))
    with pytest.raises(SystemExit, match="ffbin.tar.xz"):
        offline.check_bundle(bundle)
    target.unlink()
    with pytest.raises(SystemExit, match="ffbin.tar.xz"):
        offline.check_bundle(bundle)
    with pytest.raises(SystemExit, match="MANIFEST.json"):
        offline.check_bundle(tmp_path / "ff")


def test_summary_rows_compare_with_stock(tmp_path):
    def variant(wall, nm, cpu, vs=None):
        out = {"wall_s": wall, "non_model_ms_per_frame": nm, "non_model_cpu_ms_per_frame": cpu}
        if vs:
            out["vs_stock"] = {"identical_frames": vs[0], "frames": vs[1]}
        return out

    doc = {"frames": 150, "results": [{"version": "3.8.1", "configs": {"default": {
        "stock": variant(100.0, 400.0, 800.0), "exact_rawpng": variant(60.0, 100.0, 600.0, (150, 150)),
        "fast_rawpng": {"error": 1, "log": ""}}}}]}
    path = tmp_path / "a.json"
    path.write_text(json.dumps(doc))
    rows = offline.summary([path]).splitlines()
    assert rows[2] == "| 3.8.1 default 150f | stock | 100.0 | 400 | 1.00x | 800 | 1.00x | - |"
    assert rows[3] == "| 3.8.1 default 150f | exact_rawpng | 60.0 | 100 | 0.25x | 600 | 0.75x | 150/150 |"
    assert rows[4] == "| 3.8.1 default 150f | fast_rawpng | error 1 |"
