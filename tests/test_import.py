"""`import ffaccel` is lazy: a broken compiled extension must not stop tools that can fall back."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import ffaccel

BROKEN_CORE = "import sys; sys.modules['ffaccel._core'] = None\n"  # any import of it now raises ImportError


def _run(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", BROKEN_CORE + code], capture_output=True, text=True, timeout=120)


def test_import_without_the_extension_succeeds_and_use_fails_clearly():
    r = _run(
        "import ffaccel\n"
        "print(ffaccel.__version__)\n"
        "try:\n"
        "    ffaccel.warp_affine\n"
        "except ImportError as e:\n"
        "    print('ImportError', e)\n"
    )
    assert r.returncode == 0, r.stderr
    assert ffaccel.__version__ in r.stdout and "ImportError" in r.stdout


def test_facefusion_adapter_falls_back_with_one_warning_when_the_extension_is_broken():
    r = _run(
        "import warnings\n"
        "warnings.simplefilter('always')\n"
        "import ffaccel.integrations.facefusion as ffa\n"
        "with warnings.catch_warnings(record=True) as caught:\n"
        "    warnings.simplefilter('always')\n"
        "    ok = ffa.install()\n"
        "print('installed', ok, 'warnings', len(caught))\n"
    )
    assert r.returncode == 0, r.stderr
    assert "installed False warnings 1" in r.stdout, r.stdout + r.stderr


def test_every_public_name_resolves():
    for name in ffaccel.__all__:
        assert getattr(ffaccel, name) is not None, name
    assert set(ffaccel.__all__) <= set(dir(ffaccel))


def _package_imports() -> dict[str, set[str]]:
    """Each ffaccel module -> the ffaccel modules it imports anywhere in its text: at the top,
    inside functions, under TYPE_CHECKING. Imports of a module's own parent packages are
    left out (Python runs them first anyway)."""
    root = Path(ffaccel.__file__).parent
    modules = {}
    for path in root.rglob("*.py"):
        parts = ["ffaccel", *path.relative_to(root).with_suffix("").parts]
        modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        found: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else []))
                found.add(base)
                found.update(f"{base}.{alias.name}" for alias in node.names)
        graph[name] = {m for m in found if m in modules and m != name and not name.startswith(m + ".")}
    return graph


def test_package_has_no_import_cycles():
    graph = _package_imports()
    assert {"ffaccel.quality.monitor", "ffaccel.quality.report"} <= set(graph)
    done: set[str] = set()

    def visit(name: str, path: tuple[str, ...]) -> None:
        if name in path:
            raise AssertionError("import cycle: " + " -> ".join(path[path.index(name):] + (name,)))
        if name not in done:
            for dep in sorted(graph[name]):
                visit(dep, path + (name,))
            done.add(name)

    for name in sorted(graph):
        visit(name, ())
