"""``ffaccel demo``: a whole face-swap pipeline on a synthetic clip built at run time.

- :mod:`ffaccel.demo.clip`: the clip (target and source faces shipped in the package as
  ``faces.npz``, cut from public-domain photos of scikit-image and matplotlib; a camera
  and head trajectory, ground-truth 5- and 68-point landmarks, a detector-noise model).
- :mod:`ffaccel.demo.pipeline`: noisy landmarks -> [stabilise] -> warp crop -> swap
  stand-in -> mask -> paste back, as FaceFusion does it (numpy + cv2), with ffaccel on
  the CPU and with ffaccel on CUDA.
- :mod:`ffaccel.demo.report`: quality against ground truth, timing tables, artefacts.
- :mod:`ffaccel.demo.cli`: the ``ffaccel demo`` command.

Needs numpy only. OpenCV (``pip install "ffaccel[opencv]"``) adds the FaceFusion-style
baseline path and the mp4 videos; matplotlib adds the PNG plots (``pip install
"ffaccel[demo]"`` brings both). What a run leaves out is said in one line per missing
package (:func:`optional_notes`).
"""

from __future__ import annotations

import importlib

__all__ = ["DemoDependencyError", "OPTIONAL", "missing_optional", "optional_notes"]

#: Optional packages: import name -> the one line ``ffaccel demo`` prints when it is missing.
OPTIONAL: dict[str, str] = {
    "cv2": ("OpenCV is not installed: skipped the FaceFusion-style (numpy + cv2) baseline and its speed-ups, "
            "and wrote PNG stills instead of the two mp4 videos; pip install \"ffaccel[opencv]\" adds them"),
    "matplotlib": ("matplotlib is not installed: no PNG plots (landmarks.png, quality_*.png; the HTML reports "
                   "have no plot); pip install \"ffaccel[demo]\" adds them"),
}


class DemoDependencyError(ModuleNotFoundError):
    """A package the demo needs is missing; the message names the extra to install."""


def _importable(module: str) -> bool:
    try:
        importlib.import_module(module)
    except ImportError:
        return False
    return True


def missing_optional() -> list[str]:
    """Import names of the optional packages (see :data:`OPTIONAL`) that do not import here."""
    return [module for module in OPTIONAL if not _importable(module)]


def optional_notes() -> list[str]:
    """One line per missing optional package: what the run leaves out and what to install."""
    return [OPTIONAL[module] for module in missing_optional()]
