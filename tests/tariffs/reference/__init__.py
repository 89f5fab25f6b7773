"""A frozen copy of the tariff engine as it was before the speed rewrite (issue 16).

``engine``, ``model`` and ``restrictions`` are the modules of ``app/tariffs`` at commit 1e4c376,
imports pointed here. They are the oracle of ``tests/tariffs/test_reference.py``: the rewritten
engine must give the same results over generated tariffs and sessions. Do not edit them to make a
test pass; a difference is a bug in the new engine or a documented, deliberate change.
"""
