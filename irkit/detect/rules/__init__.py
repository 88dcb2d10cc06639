"""The rule library: one module a rule, discovered by name.

Each module ``irkit/detect/rules/<id>.py`` defines ``RULE = Rule(id="<id>", ...)``. Modules whose name
starts with ``_`` are helpers. The registry order is the tactic order of the docs, then the id.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Mapping, Sequence
from functools import cache

from irkit.detect.rule import Rule

TACTIC_ORDER = (
    "persistence",
    "privilege-escalation",
    "defense-evasion",
    "credential-access",
    "exposure",
    "exfiltration",
    "impact",
    "execution",
    "discovery",
)


def _tactic_rank(rule: Rule) -> int:
    return TACTIC_ORDER.index(rule.tactic) if rule.tactic in TACTIC_ORDER else len(TACTIC_ORDER)


@cache
def all_rules() -> tuple[Rule, ...]:
    """Every rule in the library, in a stable order."""
    found: list[Rule] = []
    for info in pkgutil.iter_modules(__path__):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        rule = getattr(module, "RULE", None)
        if not isinstance(rule, Rule):
            raise TypeError(f"{module.__name__} does not define RULE = Rule(...)")
        if rule.id != info.name:
            raise ValueError(f"rule id {rule.id!r} differs from its module name {info.name!r}")
        found.append(rule)
    return tuple(sorted(found, key=lambda r: (_tactic_rank(r), r.id)))


def rule_modules() -> tuple[str, ...]:
    return tuple(info.name for info in pkgutil.iter_modules(__path__) if not info.name.startswith("_"))


def get_rule(rule_id: str) -> Rule:
    for rule in all_rules():
        if rule.id == rule_id:
            return rule
    known = ", ".join(r.id for r in all_rules())
    raise KeyError(f"unknown rule {rule_id!r}; known rules: {known}")


def index_rules(rules: Sequence[Rule]) -> tuple[Mapping[str, tuple[Rule, ...]], tuple[Rule, ...]]:
    """Rules by the event names they can match, plus the rules that must see every event."""
    by_name: dict[str, list[Rule]] = {}
    wildcard: list[Rule] = []
    for rule in rules:
        if not rule.events:
            wildcard.append(rule)
        for name in rule.events:
            by_name.setdefault(name, []).append(rule)
    return {k: tuple(v) for k, v in by_name.items()}, tuple(wildcard)
