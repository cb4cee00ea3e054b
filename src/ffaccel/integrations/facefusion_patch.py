"""Name patching for the FaceFusion adapter (private): module scan and import hook.

FaceFusion's processors import its helpers by name (``from facefusion.face_helper import
paste_back``), so replacing the attribute of ``facefusion.face_helper`` is not enough:
every ``facefusion`` module that holds the original function object under some name
gets that name rebound. Modules imported after ``install`` are handled by a
``sys.meta_path`` finder that wraps the loader of every ``facefusion`` module and runs
the same rebinding right after the module's code has executed (before the importer
sees the module).

Each patched name is recorded (module, attribute, original); ``restore`` puts the
original object back wherever a replacement of ours still sits, so uninstall gives
back the exact function objects.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys
import threading
from collections.abc import Callable, Sequence
from types import ModuleType
from typing import Any

__all__ = ["Patcher", "Target", "is_facefusion_module"]

#: (module, attribute) of each function the adapter replaces.
TARGETS = (
    ("facefusion.face_helper", "warp_face_by_face_landmark_5"),
    ("facefusion.face_helper", "paste_back"),
    ("facefusion.face_masker", "create_box_mask"),
)


def is_facefusion_module(name: str) -> bool:
    return name == "facefusion" or name.startswith("facefusion.")


class Target:
    """One function to replace: where it is defined and how to build replacements.

    ``make(original, module_name)`` returns the replacement for references held by
    module ``module_name`` (so processors can get a different replacement from the
    recognizer); replacements are made once per (target, variant) and reused.
    """

    def __init__(self, module: str, attr: str, make: Callable[[Any, str], Any],
                 variant: Callable[[str], str] = lambda name: "") -> None:
        self.module = module
        self.attr = attr
        self.make = make
        self.variant = variant
        self.original: Any = None
        self._replacements: dict[str, Any] = {}

    def replacement_for(self, module_name: str) -> Any:
        key = self.variant(module_name)
        rep = self._replacements.get(key)
        if rep is None:
            rep = self.make(self.original, module_name)
            rep.__ffaccel_original__ = self.original
            self._replacements[key] = rep
        return rep

    def is_ours(self, value: Any) -> bool:
        return any(value is r for r in self._replacements.values())


class _LoaderProxy(importlib.abc.Loader):
    """Runs the real loader, then lets the patcher rebind names in the new module."""

    def __init__(self, loader: Any, patcher: Patcher) -> None:
        self._loader = loader
        self._patcher = patcher

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        create = getattr(self._loader, "create_module", None)
        return create(spec) if create is not None else None

    def exec_module(self, module: ModuleType) -> None:
        self._loader.exec_module(module)
        self._patcher.on_module_loaded(module)

    def __getattr__(self, name: str) -> Any:  # get_source, is_package, get_resource_reader, ...
        return getattr(self._loader, name)


class _Finder(importlib.abc.MetaPathFinder):
    """Finds ``facefusion`` modules with the other finders and wraps their loaders."""

    def __init__(self, patcher: Patcher) -> None:
        self._patcher = patcher
        self._busy = threading.local()

    def find_spec(self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
                  ) -> importlib.machinery.ModuleSpec | None:
        if not is_facefusion_module(fullname) or getattr(self._busy, "on", False):
            return None
        self._busy.on = True
        try:
            for finder in sys.meta_path:
                if finder is self or not hasattr(finder, "find_spec"):
                    continue
                spec = finder.find_spec(fullname, path, target)
                if spec is not None:
                    break
            else:
                return None
        finally:
            self._busy.on = False
        if spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        spec.loader = _LoaderProxy(spec.loader, self._patcher)
        return spec


class Patcher:
    """Replaces the targets' names in every ``facefusion`` module, now and on later imports.

    All public methods hold one re-entrant lock.
    """

    def __init__(self, targets: Sequence[Target]) -> None:
        self.targets = list(targets)
        self.lock = threading.RLock()
        self._finder: _Finder | None = None
        self.active = False

    # -- lifecycle ------------------------------------------------------------------------------
    def start(self) -> None:
        with self.lock:
            if self.active:
                return
            self.active = True
            self._finder = _Finder(self)
            sys.meta_path.insert(0, self._finder)
            for name in self._facefusion_modules():
                self._patch_module(name, sys.modules[name])

    def stop(self) -> None:
        with self.lock:
            if not self.active:
                return
            self.active = False
            if self._finder is not None:
                try:
                    sys.meta_path.remove(self._finder)
                except ValueError:
                    pass
                self._finder = None
            for name in self._facefusion_modules():
                module = sys.modules.get(name)
                if module is None:
                    continue
                for attr, value in list(vars(module).items()):
                    for t in self.targets:
                        if t.original is not None and t.is_ours(value):
                            setattr(module, attr, t.original)

    # -- patching -------------------------------------------------------------------------------
    def on_module_loaded(self, module: ModuleType) -> None:
        with self.lock:
            if not self.active:
                return
            self._patch_module(module.__name__, module)
            # A defining module that just ran may make originals known that modules imported
            # earlier (by some path that bypassed the finder) hold: rescan all once more.
            if any(module.__name__ == t.module for t in self.targets):
                for name in self._facefusion_modules():
                    self._patch_module(name, sys.modules[name])

    def _patch_module(self, name: str, module: ModuleType | None) -> None:
        if module is None:
            return
        namespace = vars(module)
        for t in self.targets:
            if name == t.module and t.original is None:
                fn = namespace.get(t.attr)
                if callable(fn):
                    t.original = getattr(fn, "__ffaccel_original__", fn)
            if t.original is None:
                continue
            for attr, value in list(namespace.items()):
                if value is t.original or (t.is_ours(value) and value is not t.replacement_for(name)):
                    setattr(module, attr, t.replacement_for(name))

    @staticmethod
    def _facefusion_modules() -> list[str]:
        return [n for n in list(sys.modules) if is_facefusion_module(n)]
