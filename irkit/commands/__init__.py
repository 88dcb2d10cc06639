"""One module a command; each exposes ``register(app)``.

Order here is the order of ``irkit --help``.
"""

from __future__ import annotations

from types import ModuleType

from irkit.commands import (
    analyze,
    baseline,
    cases,
    collect,
    contain,
    drill,
    init,
    permissions,
    restore,
    resume,
    revert,
    rules,
    runbook,
    verify,
)

COMMAND_MODULES: tuple[ModuleType, ...] = (
    contain,
    collect,
    resume,
    restore,
    revert,
    cases,
    verify,
    analyze,
    baseline,
    drill,
    runbook,
    rules,
    permissions,
    init,
)
