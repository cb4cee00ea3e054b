"""``ffaccel.status()``: what this installation can do, for ``ffaccel info`` and bug reports."""

from __future__ import annotations

import importlib
import os
from typing import Any

from ffaccel import _core
from ffaccel._version import __version__

# Oldest driver each CUDA major needs (minor-version compatibility within a major).
_DRIVER_FLOOR = {12: "525.60.13", 13: "580.65.06"}


def _version_str(v: int) -> str:
    return f"{v // 1000}.{(v % 1000) // 10}" if v else "none"


def _code_for(cc: tuple[int, int], archs: list[str]) -> str | None:
    """How a device of compute capability ``cc`` runs our kernels, or None if it cannot.

    SASS built for sm_XY runs on any sm_XZ with Z >= Y; PTX for compute_XY is compiled
    by the driver for any device of capability >= XY.
    """
    major, minor = cc
    sass, ptx = [], []
    for a in archs:
        num, _, kind = a.partition("-")
        if not num.isdigit():
            continue
        arch = (int(num) // 10, int(num) % 10)
        if kind in ("", "real"):
            sass.append(arch)
        if kind in ("", "virtual"):
            ptx.append(arch)
    fits = [a for a in sass if a[0] == major and a[1] <= minor]
    if fits:
        best = max(fits)
        return f"sm_{best[0]}{best[1]} machine code"
    jit = [a for a in ptx if a <= (major, minor)]
    if jit:
        best = max(jit)
        return f"PTX compute_{best[0]}{best[1]}, compiled by the driver at first use"
    return None


def _framework(name: str) -> dict[str, Any]:
    try:
        mod = importlib.import_module(name)
    except Exception as exc:  # an installed-but-broken framework is worth reporting
        return {"available": False, "error": f"{type(exc).__name__}: {exc}"}
    info: dict[str, Any] = {"available": True, "version": getattr(mod, "__version__", "?")}
    if name == "torch":
        info["cuda"] = bool(mod.cuda.is_available())
    return info


def status(frameworks: bool = True) -> dict[str, Any]:
    """Describe this installation.

    Args:
        frameworks: also try importing cupy and torch (slow the first time).

    Returns:
        A dict with ``version``; ``cuda_built`` (bool), ``cuda_archs`` (list of CMake
        architecture entries; ``"90-real"`` is sm_90 machine code, a bare ``"120"`` adds
        PTX), ``cuda_reason`` (why not built), ``cuda_compiler``;
        ``cuda_runtime_version`` and ``driver_version`` (``"13.0"``, or ``"none"``),
        ``driver_required`` and ``cuda_error``; ``gpus``, one dict per visible device
        (``index``, ``name``, ``compute_capability``, ``memory_gib``, ``supported``,
        ``code``, and ``advice`` where unsupported); ``cpu_threads``; and with
        ``frameworks`` ``numpy``, ``cupy`` and ``torch`` entries saying whether each
        imports.

    Example:
        >>> import ffaccel
        >>> sorted(ffaccel.status(frameworks=False))[:3]
        ['cpu_threads', 'cuda_archs', 'cuda_built']
    """
    build = _core.build_info()
    runtime = _core.runtime_info()
    archs = [a for a in build["cuda_archs"].split(",") if a]
    gpus = []
    for dev in runtime["devices"]:
        cc = tuple(dev["compute_capability"])
        code = _code_for(cc, archs)
        entry = {
            "index": dev["index"],
            "name": dev["name"],
            "compute_capability": f"{cc[0]}.{cc[1]}",
            "memory_gib": round(dev["total_memory"] / 2**30, 1),
            "supported": code is not None,
            "code": code or "none",
        }
        if code is None:
            entry["advice"] = (
                f"this build has no code for compute capability {cc[0]}.{cc[1]}; rebuild from source with "
                f"FFACCEL_CUDA_ARCHS={cc[0]}{cc[1]} (or 'native') and a CUDA toolkit that supports it"
            )
        gpus.append(entry)
    rt = runtime["runtime_version"]
    out: dict[str, Any] = {
        "version": __version__,
        "cuda_built": bool(build["cuda_built"]),
        "cuda_archs": archs,
        "cuda_reason": build["cuda_reason"],
        "cuda_compiler": build["cuda_compiler"],
        "cuda_runtime_version": _version_str(rt),
        "driver_version": _version_str(runtime["driver_version"]),
        "driver_required": f">= {_DRIVER_FLOOR.get(rt // 1000, '?')} (CUDA {rt // 1000})" if rt else "none (CPU only)",
        "cuda_error": "no NVIDIA driver found" if build["cuda_built"] and not runtime["driver_version"]
        else runtime["error"],
        "gpus": gpus,
        "cpu_threads": build["cpu_threads"],
    }
    if frameworks:
        out["numpy"] = _framework("numpy")
        if os.environ.get("FFACCEL_SKIP_FRAMEWORK_PROBE") != "1":
            out["cupy"] = _framework("cupy")
            out["torch"] = _framework("torch")
    return out
