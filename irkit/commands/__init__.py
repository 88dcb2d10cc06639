"""One module a command; each exposes ``register(app)`` and registers the command of its name.

Order here is the order of ``irkit --help`` (typer lists the groups — runbook, rules, journal —
after the plain commands). Modules are imported when a command is registered
(``command_module``), so a run imports only the command it runs (``irkit.cli``).
"""

from __future__ import annotations

from importlib import import_module
from types import ModuleType

COMMAND_NAMES: tuple[str, ...] = (
    "contain",
    "collect",
    "resume",
    "restore",
    "revert",
    "report",
    "cases",
    "verify",
    "analyze",
    "baseline",
    "drill",
    "watch",
    "runbook",
    "rules",
    "permissions",
    "init",
    "journal",
)
"""Each names the command and its module ``irkit.commands.<name>``."""


def command_module(name: str) -> ModuleType:
    """``irkit.commands.<name>``, imported on first use; a KeyError for a name that is no command."""
    if name not in COMMAND_NAMES:
        raise KeyError(name)
    return import_module(f"{__name__}.{name}")
