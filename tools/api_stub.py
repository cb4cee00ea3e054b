"""Write ``src/ffaccel/__init__.pyi``, the type stub of ``import ffaccel``, from its one list of names.

``src/ffaccel/__init__.py`` keeps the public API in one place, the ``_EXPORTS`` map
(public name -> the module that defines it), which drives the lazy loader and
``__all__``. Static tools (type checkers, IDEs) cannot run that loader, so they read this
generated stub instead. Run from the repository root after changing ``_EXPORTS``::

    python -m tools.api_stub          # rewrites src/ffaccel/__init__.pyi
    python -m tools.api_stub --check  # exit status 1 if the stub is out of date

``tests/test_api_list.py`` fails while the stub and the list disagree.
"""

from __future__ import annotations

import argparse
import ast
from pathlib import Path

INIT = Path(__file__).resolve().parents[1] / "src" / "ffaccel" / "__init__.py"
STUB = INIT.with_suffix(".pyi")


def read_exports(init: Path = INIT) -> dict[str, str]:
    """The ``_EXPORTS`` literal of ``__init__.py``, read without importing ffaccel."""
    for node in ast.parse(init.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.AnnAssign) and getattr(node.target, "id", None) == "_EXPORTS":
            return ast.literal_eval(node.value)
    raise ValueError(f"{init}: no _EXPORTS = {{...}} found")


def render(exports: dict[str, str]) -> str:
    """The stub's text: one re-export per name, grouped by module, and ``__all__``."""
    lines = [
        "# Generated from _EXPORTS in __init__.py by `python -m tools.api_stub`: do not edit by hand.",
        "# The type stub of `import ffaccel` (the names load lazily at run time; static tools read this).",
        "",
    ]
    for module in sorted(set(exports.values())):
        names = sorted((n for n, m in exports.items() if m == module), key=str.lower)
        lines.append(f"from {module} import (")
        lines += [f"    {name} as {name}," for name in names]
        lines.append(")")
    lines += ["", "__version__: str", "__all__: list[str] = ["]
    lines += [f'    "{name}",' for name in sorted([*exports, "__version__"], key=str.lower)]
    lines += ["]", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only compare; exit 1 when the stub is out of date")
    args = parser.parse_args(argv)
    text = render(read_exports())
    if args.check:
        current = STUB.read_text(encoding="utf-8") if STUB.exists() else ""
        print(f"{STUB.name}: {'up to date' if current == text else 'OUT OF DATE: run python -m tools.api_stub'}")
        return 0 if current == text else 1
    STUB.write_text(text, encoding="utf-8")
    print(f"wrote {STUB}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
