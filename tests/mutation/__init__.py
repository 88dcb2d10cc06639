"""Mutation testing of the modules whose failure would be silent (``nox -s mutation``).

``plan.py`` names the modules, the tests that exercise each and the score each must keep;
``constants.py`` makes the mutants of module-level constants that mutmut does not make;
``run.py`` runs both and reports. See docs/reliability.md.
"""
