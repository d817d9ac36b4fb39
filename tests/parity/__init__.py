"""Parity suite support: the case matrix, the comparisons and the golden files (see docs/parity.md).

`tests/test_parity.py` imports :mod:`parity.harness` (pytest puts ``tests/`` on ``sys.path``);
`regenerate_goldens.py` rewrites ``golden/`` from the reference backend.
"""
