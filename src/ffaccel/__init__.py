"""ffaccel: GPU and fast-CPU acceleration for face-swap pipelines."""

__version__ = "0.1.0"
