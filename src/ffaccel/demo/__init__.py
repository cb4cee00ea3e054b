"""``ffaccel demo``: a whole face-swap pipeline on a synthetic clip built at run time.

- :mod:`ffaccel.demo.clip`: the clip (target and source faces that ship with
  scikit-image and matplotlib, a camera and head trajectory, ground-truth 5- and
  68-point landmarks, a detector-noise model).
- :mod:`ffaccel.demo.pipeline`: noisy landmarks -> [stabilise] -> warp crop -> swap
  stand-in -> mask -> paste back, as FaceFusion does it (numpy + cv2), with ffaccel on
  the CPU and with ffaccel on CUDA.
- :mod:`ffaccel.demo.report`: quality against ground truth, timing tables, artefacts.
- :mod:`ffaccel.demo.cli`: the ``ffaccel demo`` command.

Needs the ``demo`` extra (scikit-image, matplotlib: ``pip install ffaccel[demo]``) and
OpenCV (the ``opencv`` extra).
"""

from __future__ import annotations

__all__ = ["DemoDependencyError", "require_demo_dependencies"]

INSTALL_HINT = "pip install ffaccel[demo]"


class DemoDependencyError(ModuleNotFoundError):
    """A package the demo needs is missing; the message names the extra to install."""


def require_demo_dependencies() -> None:
    """Import-check scikit-image, matplotlib and OpenCV; raise one clear error if any is missing.

    Raises:
        DemoDependencyError: naming every missing package and ``pip install ffaccel[demo]``.
    """
    import importlib

    missing: list[str] = []
    extras: list[str] = []
    for module, package, extra in (("skimage", "scikit-image", "demo"), ("matplotlib", "matplotlib", "demo"),
                                   ("cv2", "opencv-python-headless", "opencv")):
        try:
            importlib.import_module(module)
        except ImportError:
            missing.append(package)
            if extra not in extras:
                extras.append(extra)
    if missing:
        hint = INSTALL_HINT if extras == ["demo"] else f"pip install ffaccel[{','.join(extras)}]"
        raise DemoDependencyError(f"the demo needs {', '.join(missing)}: {hint}")
