"""`import ffaccel` is lazy: a broken compiled extension must not stop tools that can fall back."""

from __future__ import annotations

import subprocess
import sys

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
