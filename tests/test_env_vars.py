"""docs/runtime.md's "Environment variables" table names exactly the FFACCEL_* variables that
the package (src/), its kernels (kernels/) and its build (CMakeLists.txt) read.

Why: a variable that changes behaviour and is documented nowhere is one a user meets only
when something already went wrong; one the table names but nothing reads misleads.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NAME = r"FFACCEL_[A-Z0-9_]+"
# how the code reads a variable: C/C++ getenv, CMake $ENV{}, and Python string literals
# (os.environ.get("..."), or a constant such as PROFILE_ENV = "..." passed to it)
_GETENV = re.compile(rf'getenv\("({NAME})"\)')
_READS = {
    ".h": _GETENV,
    ".cpp": _GETENV,
    ".cu": _GETENV,
    ".txt": re.compile(rf"\$ENV\{{({NAME})\}}"),
    ".py": re.compile(rf"""["']({NAME})["']"""),
}


def variables_read() -> dict[str, list[str]]:
    """{variable: [files reading it]} over src/, kernels/ and CMakeLists.txt."""
    files = [*ROOT.joinpath("src").rglob("*.py"), *ROOT.joinpath("kernels").rglob("*"), ROOT / "CMakeLists.txt"]
    found: dict[str, list[str]] = {}
    for f in files:
        pattern = _READS.get(f.suffix)
        if pattern is None or not f.is_file():
            continue
        for name in pattern.findall(f.read_text(encoding="utf-8", errors="replace")):
            found.setdefault(name, []).append(str(f.relative_to(ROOT)))
    return found


def variables_documented(text: str) -> list[str]:
    """The first column of the "Environment variables" section's table, in order."""
    section = text.split("\n## Environment variables\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(rf"^\| `({NAME})` \|", section, re.M)


def test_the_table_names_every_variable_the_code_reads_and_no_other():
    documented = variables_documented((ROOT / "docs" / "runtime.md").read_text(encoding="utf-8"))
    assert len(documented) == len(set(documented)), "a variable has two rows"
    read = variables_read()
    missing = {k: v for k, v in read.items() if k not in documented}
    unread = [k for k in documented if k not in read]
    assert not missing, f"read but not in docs/runtime.md's table: {missing}"
    assert not unread, f"in docs/runtime.md's table but read nowhere: {unread}"


def test_the_scan_sees_each_kind_of_read():
    # the scan itself: one variable the package reads through each route it recognises
    read = variables_read()
    assert "kernels/cpu/parallel.cpp" in read["FFACCEL_NUM_THREADS"]  # getenv in C++
    assert "kernels/cuda/launch.h" in read["FFACCEL_PDL"]  # getenv in a CUDA header
    assert read["FFACCEL_CUDA_ARCHS"] == ["CMakeLists.txt"]  # CMake's $ENV{}
    assert "src/ffaccel/distributed/worker.py" in read["FFACCEL_DISTRIBUTED_PROFILE"]  # a Python constant
    assert variables_documented("x\n## Environment variables\n| `FFACCEL_A` | b |\n| `FFACCEL_B` | c |\n## Next\n"
                                "| `FFACCEL_C` | d |\n") == ["FFACCEL_A", "FFACCEL_B"]
