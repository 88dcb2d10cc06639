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
    report,
    restore,
    resume,
    revert,
    rules,
    runbook,
    verify,
    watch,
)

COMMAND_MODULES: tuple[ModuleType, ...] = (
    contain,
    collect,
    resume,
    restore,
    revert,
    report,
    cases,
    verify,
    analyze,
    baseline,
    drill,
    watch,
    runbook,
    rules,
    permissions,
    init,
)
