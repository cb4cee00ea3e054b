"""Adapters that put ffaccel inside other face-swap applications without editing them.

``ffaccel.integrations.facefusion``: FaceFusion 3.5-3.8 (see docs/facefusion.md).
"""

__all__: list[str] = []
