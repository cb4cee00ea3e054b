"""One list of the public API: ``_EXPORTS`` in ffaccel/__init__.py drives the loader, ``__all__`` and the stub."""

from __future__ import annotations

import ast
import importlib

import ffaccel
from tools import api_stub


def test_stub_is_generated_from_the_list():
    # Out of date? Run `python -m tools.api_stub` and commit src/ffaccel/__init__.pyi.
    assert api_stub.STUB.read_text(encoding="utf-8") == api_stub.render(ffaccel._EXPORTS)


def test_list_read_from_source_is_the_imported_list():
    assert api_stub.read_exports() == ffaccel._EXPORTS


def test_all_and_stub_name_the_same_objects_as_the_list():
    assert set(ffaccel.__all__) == {*ffaccel._EXPORTS, "__version__"}
    stub = ast.parse(api_stub.STUB.read_text(encoding="utf-8"))
    imported = {}
    for node in stub.body:
        if isinstance(node, ast.ImportFrom):
            for alias in node.names:
                assert alias.asname == alias.name  # `import x as x`: an explicit re-export
                imported[alias.name] = node.module
        elif isinstance(node, ast.AnnAssign) and node.target.id == "__all__":
            assert ast.literal_eval(node.value) == ffaccel.__all__
    assert imported == ffaccel._EXPORTS
    for name, module in imported.items():
        assert getattr(importlib.import_module(module), name) is getattr(ffaccel, name), name
