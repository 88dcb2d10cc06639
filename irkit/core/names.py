"""Names said once: the step types of the containment stage and the old names runbooks may still use.

One name per thing: the stage is ``contain`` on the command line, in the runbook (``step: contain``,
``step: contain_chain``) and as a package (:mod:`irkit.contain`). Runbooks written before wave 2 say
``revoke`` / ``revoke_chain``; those stay accepted, read as the new names, and journals of old cases
(whose ``step.done`` entries carry the old type) are read through :func:`canonical_step`.
Module names map to registry names one way, stated once in :func:`registered_name`: a step, rule or
detector module ``foo_bar.py`` registers as ``foo_bar``; a drill scenario module ``foo_bar.py`` as
``foo-bar`` (what ``irkit drill --scenario`` takes). ``tests/test_registry_names.py`` holds every
registry to it.
"""

from __future__ import annotations

from typing import Literal

STEP_ALIASES: dict[str, str] = {"revoke": "contain", "revoke_chain": "contain_chain"}
"""Old step type → its name now."""

CONTAIN_STEPS = frozenset({"contain", "contain_chain"})
"""Step types that contain credentials (their rows make the containment verdict)."""


def canonical_step(step_type: str) -> str:
    """The step type as it is named now (``revoke`` → ``contain``); others unchanged."""
    return STEP_ALIASES.get(step_type, step_type)


RegistryKind = Literal["step", "rule", "detector", "scenario"]


def registered_name(kind: RegistryKind, module: str) -> str:
    """The name the module ``module`` (its own name, ``foo_bar``) of a registry of ``kind`` registers under."""
    return module.replace("_", "-") if kind == "scenario" else module
