"""What a step plans and what it did: :class:`Action` (one intended change), :class:`Plan` (a step's
read-only answer to "what would you do"), :class:`StepResult` (what ``apply`` returns, journaled).

Plans are written to ``plans/<step>.json`` and an approved plan is applied exactly as written, so the
three round-trip through JSON.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from irkit.gaps import Gap


@dataclass(frozen=True, slots=True)
class Action:
    """One change a step intends to make, e.g. ``deactivate-access-key`` on ``user/agent-bot``."""

    kind: str
    target: str
    detail: str = ""
    params: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "target": self.target, "detail": self.detail, "params": dict(self.params)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Action:
        return cls(str(data["kind"]), str(data["target"]), str(data.get("detail", "")), dict(data.get("params", {})))


@dataclass(frozen=True, slots=True)
class Plan:
    step_id: str
    actions: tuple[Action, ...] = ()
    notes: tuple[str, ...] = ()
    gaps: tuple[Gap, ...] = ()
    data: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "step_id": self.step_id,
            "actions": [a.to_json() for a in self.actions],
            "notes": list(self.notes),
            "gaps": [g.to_json() for g in self.gaps],
            "data": dict(self.data),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Plan:
        return cls(
            step_id=str(data["step_id"]),
            actions=tuple(Action.from_json(a) for a in data.get("actions", [])),
            notes=tuple(str(n) for n in data.get("notes", [])),
            gaps=tuple(Gap(str(g["path"]), str(g["reason"])) for g in data.get("gaps", [])),
            data=dict(data.get("data", {})),
        )


@dataclass(frozen=True, slots=True)
class StepResult:
    summary: str
    output: Mapping[str, Any] = field(default_factory=dict)
    """JSON-serialisable; journaled, and what later steps (and a resumed run) read."""
    gaps: tuple[Gap, ...] = ()


