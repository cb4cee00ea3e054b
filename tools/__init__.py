"""The workshop: scripts that build what the wheel ships. Not part of the ffaccel package.

Run them from the repository root as ``python -m tools.<name>``; see tools/README.md.
"""
