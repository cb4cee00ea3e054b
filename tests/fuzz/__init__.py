"""A fuzzer of hostile inputs for every public op (issue: hostile inputs).

``python -m tests.fuzz`` runs it; ``tests/fuzz/test_fuzz.py`` runs its fast profile in
the normal pytest run. See ``tests/fuzz/__main__.py`` for the options.
"""
