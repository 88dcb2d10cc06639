"""Drill scenarios, one YAML file a scenario (``foo_bar.yaml`` holds ``name: foo-bar``): an attack
performed for real on the simulator, its benign background, the rule ids irkit must detect and what of
the attacker's must be gone afterwards. The format is :mod:`irkit.drill.spec`'s; ``docs/drills.md``
explains it. Every file is validated on loading: a bad one is a :class:`ScenarioError`, not a traceback.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from irkit.drill.spec import Background, ScenarioError, ScenarioSpec, load_scenario_file
from irkit.drill.world import World

__all__ = ["Scenario", "ScenarioError", "all_scenarios", "load_scenario", "scenario_files"]

HERE = Path(__file__).parent


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
    setup: Callable[[World], None] | None = None
    """The estate the scenario needs beyond the standard world (the administrator's, not logged)."""
    benign: Callable[[World], None] | None = None
    """The agent's own normal calls before and during the attack (its background beyond the reads)."""
    background: Background = field(default_factory=Background)
    max_severity: str = "critical"
    """Nothing above this severity may be flagged (``low`` for a benign scenario)."""
    source: str = ""
    """The scenario's file."""


def from_spec(spec: ScenarioSpec) -> Scenario:
    return Scenario(
        name=spec.name,
        summary=spec.summary,
        expected=spec.expected,
        attack=spec.attack.run,
        default=spec.default,
        integrity=spec.integrity,
        after_delivery=spec.after_delivery.run if spec.after_delivery is not None else None,
        setup=spec.setup.run if spec.setup.steps else None,
        benign=spec.benign.run if spec.benign.steps else None,
        background=spec.background,
        max_severity=spec.max_severity,
        source=str(spec.path),
    )


def load_scenario(path: Path) -> Scenario:
    """One scenario file, validated (:class:`ScenarioError` names the file and the place)."""
    return from_spec(load_scenario_file(path))


def scenario_files() -> list[Path]:
    return sorted(HERE.glob("*.yaml"))


@cache
def _shipped() -> tuple[Scenario, ...]:
    return tuple(load_scenario(p) for p in scenario_files())


def all_scenarios() -> dict[str, Scenario]:
    """Every shipped scenario by name, sorted."""
    return {s.name: s for s in sorted(_shipped(), key=lambda s: s.name)}
