"""Every docstring example in the package runs and gives what it shows: one pass over every module.

The same effect as ``pytest --doctest-modules src/ffaccel``, inside the normal test run: the
package (the installed one, as every other test uses) is walked, each module imported, and
each docstring that has examples becomes one test. Nothing is listed by hand, so a new
module's examples run without anyone adding them here.

Skips, each with its reason: a docstring whose examples import an optional package that is
not installed (torch, cupy, OpenCV, matplotlib, onnxruntime); a docstring whose every example
is marked ``# doctest: +SKIP`` (they need a file or a service that a test machine lacks).
``__main__`` modules are not imported (importing them runs the command).
"""

from __future__ import annotations

import doctest
import importlib
import importlib.util
import pkgutil
import re

import pytest

import ffaccel

OPTIONAL = ("torch", "cupy", "cv2", "matplotlib", "onnxruntime")
_IMPORT = re.compile(r"^\s*(?:import|from)\s+(" + "|".join(OPTIONAL) + r")\b", re.MULTILINE)


def _module_names() -> list[str]:
    names = ["ffaccel"] + [m.name for m in pkgutil.walk_packages(ffaccel.__path__, "ffaccel.")]
    return sorted(n for n in names if n.rpartition(".")[2] != "__main__")


def _docstring_tests() -> list[object]:
    finder = doctest.DocTestFinder()
    params: list[object] = []
    for name in _module_names():
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:  # a module that needs an optional package at import
            params.append(pytest.param(None, id=name, marks=pytest.mark.skip(reason=f"{name} needs {exc.name}")))
            continue
        params += [pytest.param(t, id=t.name) for t in finder.find(module, name) if t.examples]
    return params


DOCTESTS = _docstring_tests()


def test_the_walk_finds_the_examples_of_every_part():
    found = {p.id for p in DOCTESTS}
    for name in ("ffaccel", "ffaccel.ops.warp_affine.warp_affine", "ffaccel.ops.composite.composite",
                 "ffaccel.ops.hysteresis.mask_hysteresis", "ffaccel.runtime.graph_runner.CudaGraphRunner",
                 "ffaccel.quality.metrics.bgr_to_lab", "ffaccel.stability.one_euro.OneEuroFilter"):
        assert name in found, name


@pytest.mark.parametrize("test", DOCTESTS)
def test_docstring_examples(test: doctest.DocTest) -> None:
    for module in sorted(set(_IMPORT.findall("".join(e.source for e in test.examples)))):
        if importlib.util.find_spec(module) is None:
            pytest.skip(f"the example imports {module}, which is not installed")
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    report: list[str] = []
    result = runner.run(test, out=report.append)
    assert result.failed == 0, "".join(report)
    if result.attempted == 0:
        pytest.skip("every example is marked +SKIP")
