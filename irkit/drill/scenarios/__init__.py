"""Drill scenarios, one module a scenario: an attack performed for real on the simulator.

Each module defines ``SCENARIO``; its ``expected`` rule ids are what irkit must detect.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass

from irkit.drill.world import World


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    summary: str
    expected: tuple[str, ...]
    attack: Callable[[World], None]
    default: bool = False
    integrity: tuple[str, ...] = ()
    """Digest-chain problem kinds the verify step must report; none at all when empty."""
    after_delivery: Callable[[World], None] | None = None
    """What the attacker does once CloudTrail has delivered the logs (e.g. rewrite one in the archive)."""


def all_scenarios() -> dict[str, Scenario]:
    found: dict[str, Scenario] = {}
    for info in pkgutil.iter_modules(__path__):
        module = importlib.import_module(f"{__name__}.{info.name}")
        scenario: Scenario = module.SCENARIO
        found[scenario.name] = scenario
    return dict(sorted(found.items()))
