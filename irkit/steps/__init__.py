"""Runbook steps, one module a step type; importing this package registers them all."""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Mapping

from irkit.steps.base import Step, registered

_loaded = False


def registry() -> Mapping[str, type[Step]]:
    """Every registered step by name; imports each module of this package once."""
    global _loaded
    if not _loaded:
        for info in pkgutil.iter_modules(__path__):
            if info.name != "base" and not info.name.startswith("_"):
                importlib.import_module(f"{__name__}.{info.name}")
        _loaded = True
    return registered()
