"""Names said once: the step types of the containment stage and the old names runbooks may still use.

One name per thing: the stage is ``contain`` on the command line, in the runbook (``step: contain``,
``step: contain_chain``) and as a package (:mod:`irkit.contain`). Runbooks written before wave 2 say
``revoke`` / ``revoke_chain``; those stay accepted, read as the new names, and journals of old cases
(whose ``step.done`` entries carry the old type) are read through :func:`canonical_step`.
Module names map to registry names one way, stated once: a step, rule, detector or scenario module
``foo_bar.py`` registers as ``foo_bar`` (rules and scenarios are written ``foo-bar`` nowhere).
"""

from __future__ import annotations

STEP_ALIASES: dict[str, str] = {"revoke": "contain", "revoke_chain": "contain_chain"}
"""Old step type → its name now."""

CONTAIN_STEPS = frozenset({"contain", "contain_chain"})
"""Step types that contain credentials (their rows make the containment verdict)."""


def canonical_step(step_type: str) -> str:
    """The step type as it is named now (``revoke`` → ``contain``); others unchanged."""
    return STEP_ALIASES.get(step_type, step_type)
