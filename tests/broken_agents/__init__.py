"""Deliberately broken agents, one module per kind of bug the gradient doctor must catch.

Plain modules, not registered: they live outside ``agents/``, so ``agents.available()``
never lists them. A test registers one under a name for the duration of a check
(``tests/test_doctor_kinds.py``) and unregisters it after.
"""
