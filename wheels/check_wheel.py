"""Check a built ffaccel wheel before it ships.

    python wheels/check_wheel.py dist/ffaccel-*.whl [--archs 75,80,86,89,90,100,120] [--ptx 120]
                                 [--max-mb 100] [--cpu-only] [--python PYTHON]

Verifies, and prints one line per check (exit status 1 if any fails):
  size        the wheel is under --max-mb megabytes;
  no-libcuda  no libcuda.so* inside (the driver library must come from the system);
  static-rt   the extension does not link libcudart.so dynamically (static CUDA runtime);
  archs       SASS for every --archs entry and PTX for --ptx, read with cuobjdump where it
              is on PATH, else from the fatbin headers in the extension's .nv_fatbin section;
  import      the extension imports in a fresh interpreter from the unpacked wheel;
  smoke       a warp and a paste run on the CPU path and give the expected bytes.
With --cpu-only the architecture checks expect no CUDA code at all.
"""

from __future__ import annotations

import argparse
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

FATBIN_MAGIC = 0xBA55ED50
KIND_PTX, KIND_ELF = 1, 2


def elf_sections(data: bytes) -> dict[str, tuple[int, int]]:
    """Name -> (offset, size) of an ELF64 little-endian file's sections."""
    if data[:4] != b"\x7fELF" or data[4] != 2:
        raise ValueError("not a 64-bit ELF file")
    shoff = struct.unpack_from("<Q", data, 0x28)[0]
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", data, 0x3A)
    raw = [struct.unpack_from("<IIQQQQ", data, shoff + i * shentsize) for i in range(shnum)]
    strtab = raw[shstrndx][4]
    out = {}
    for name, _typ, _flags, _addr, off, size in raw:
        end = data.index(b"\0", strtab + name)
        out[data[strtab + name:end].decode()] = (off, size)
    return out


def needed_libraries(data: bytes) -> list[str]:
    """DT_NEEDED entries of an ELF64 shared object."""
    secs = elf_sections(data)
    if ".dynamic" not in secs or ".dynstr" not in secs:
        return []
    dyn_off, dyn_size = secs[".dynamic"]
    str_off, _ = secs[".dynstr"]
    libs = []
    for pos in range(dyn_off, dyn_off + dyn_size, 16):
        tag, val = struct.unpack_from("<qQ", data, pos)
        if tag == 0:
            break
        if tag == 1:  # DT_NEEDED
            end = data.index(b"\0", str_off + val)
            libs.append(data[str_off + val:end].decode())
    return libs


def fatbin_archs(data: bytes) -> tuple[set[int], set[int]]:
    """(SASS archs, PTX archs) from the fatbin containers of an extension.

    Container: magic u32, version u16, header size u16, payload size u64. Each entry:
    kind u16 (1 PTX, 2 ELF), u16, header size u32, payload size u64, ..., arch u32 at 28.
    """
    secs = elf_sections(data)
    if ".nv_fatbin" not in secs:
        return set(), set()
    off, size = secs[".nv_fatbin"]
    sass, ptx = set(), set()
    pos = off
    while pos + 16 <= off + size:
        magic, _ver, hsize, fsize = struct.unpack_from("<IHHQ", data, pos)
        if magic != FATBIN_MAGIC:
            pos += 8  # containers are 8-byte aligned; skip padding
            continue
        entry = pos + hsize
        while entry < pos + hsize + fsize:
            kind, _unk, ehsize, psize = struct.unpack_from("<HHIQ", data, entry)
            arch = struct.unpack_from("<I", data, entry + 28)[0]
            (ptx if kind == KIND_PTX else sass).add(arch)
            entry += ehsize + psize
        pos += hsize + fsize
    return sass, ptx


def cuobjdump_archs(so: Path) -> tuple[set[int], set[int]] | None:
    exe = shutil.which("cuobjdump")
    if exe is None:
        return None
    out = subprocess.run([exe, "--list-elf", "--list-ptx", str(so)], capture_output=True, text=True)
    if out.returncode != 0:
        return None
    sass, ptx = set(), set()
    for line in out.stdout.splitlines():
        if ".sm_" in line:
            arch = int(line.split(".sm_")[1].split(".")[0].rstrip("a").rstrip("f"))
            (ptx if line.strip().startswith("PTX") else sass).add(arch)
    return sass, ptx


SMOKE = """
import numpy as np, ffaccel
src = np.arange(40 * 50 * 3, dtype=np.uint8).reshape(40, 50, 3)
eye = np.array([[1.0, 0, 0], [0, 1.0, 0]])
assert (ffaccel.warp_affine(src, eye, (50, 40)) == src).all(), "identity warp"
out = ffaccel.paste_back(src, np.full((10, 10, 3), 7, np.uint8), np.ones((10, 10), np.float32),
                         np.array([[1.0, 0, -5], [0, 1.0, -5]]))
assert (out[5:15, 5:15] == 7).all() and (out[20:] == src[20:]).all(), "paste"
print(ffaccel.__version__, ffaccel.status(frameworks=False)["cuda_built"])
"""


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("wheel", type=Path)
    ap.add_argument("--archs", default="75,80,86,89,90,100,120", help="SASS architectures that must be present")
    ap.add_argument("--ptx", default="120", help="PTX architectures that must be present")
    ap.add_argument("--max-mb", type=float, default=100.0)
    ap.add_argument("--cpu-only", action="store_true", help="expect a wheel without CUDA code")
    ap.add_argument("--python", default=sys.executable, help="interpreter for the import and smoke checks")
    args = ap.parse_args(argv)

    if not args.wheel.is_file():
        print(f"check_wheel: no such file: {args.wheel}", file=sys.stderr)
        return 2
    results: list[tuple[str, bool, str]] = []
    size_mb = args.wheel.stat().st_size / 2**20
    results.append(("size", size_mb < args.max_mb, f"{size_mb:.1f} MB (limit {args.max_mb:g} MB)"))
    with tempfile.TemporaryDirectory() as tmp:
        with zipfile.ZipFile(args.wheel) as zf:
            names = zf.namelist()
            zf.extractall(tmp)
        cuda_libs = [n for n in names if "libcuda.so" in n]
        results.append(("no-libcuda", not cuda_libs, ", ".join(cuda_libs) or "none bundled"))
        exts = sorted(Path(tmp).glob("ffaccel/_core*.so"))
        if not exts:
            results.append(("extension", False, "ffaccel/_core*.so not found in the wheel"))
        else:
            data = exts[0].read_bytes()
            needed = needed_libraries(data)
            dyn_rt = [n for n in needed if n.startswith(("libcudart", "libcuda."))]
            results.append(("static-rt", not dyn_rt, "NEEDED: " + ", ".join(needed)))
            found = cuobjdump_archs(exts[0])
            how = "cuobjdump"
            if found is None:
                found, how = fatbin_archs(data), "fatbin headers"
            sass, ptx = found
            want_sass = set() if args.cpu_only else {int(a) for a in args.archs.split(",") if a}
            want_ptx = set() if args.cpu_only else {int(a) for a in args.ptx.split(",") if a}
            ok = want_sass <= sass and want_ptx <= ptx and (not args.cpu_only or not (sass or ptx))
            results.append(("archs", ok, f"SASS {sorted(sass)} PTX {sorted(ptx)} ({how}); "
                                         f"want SASS {sorted(want_sass)} PTX {sorted(want_ptx)}"))
        env = dict(os.environ, PYTHONPATH=tmp + os.pathsep + os.environ.get("PYTHONPATH", ""))
        imp = subprocess.run([args.python, "-c", "import ffaccel._core, ffaccel; print(ffaccel.__file__)"],
                             capture_output=True, text=True, env=env, cwd=tmp)
        imported = imp.returncode == 0 and imp.stdout.startswith(tmp)
        results.append(("import", imported, imp.stdout.strip() if imported else
                        (imp.stderr.strip().splitlines() or [imp.stdout.strip() or "?"])[-1]))
        smoke = subprocess.run([args.python, "-c", SMOKE], capture_output=True, text=True, env=env, cwd=tmp)
        detail = smoke.stdout.strip() if smoke.returncode == 0 else (smoke.stderr.strip().splitlines() or ["?"])[-1]
        results.append(("smoke", smoke.returncode == 0, detail))

    width = max(len(n) for n, _, _ in results)
    for name, ok, detail in results:
        print(f"{'PASS' if ok else 'FAIL'}  {name.ljust(width)}  {detail}")
    failed = [n for n, ok, _ in results if not ok]
    print(f"check_wheel: {args.wheel.name}: {'all checks passed' if not failed else 'FAILED: ' + ', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
