"""What a runbook step is: a registered class with declared options and IAM permissions,
a read-only ``plan()`` and an ``apply()`` that carries out exactly that plan.

```python
@register
class Revoke(Step):
    name = "revoke"                       # registry key == module name == runbook `step:`
    permissions = ("iam:UpdateAccessKey",)  # what the responder role needs (→ irkit permissions)
    mutates = True                        # a dry run plans it and skips apply
```
Steps never see ``--dry-run``: the guard in :mod:`irkit.aws.guard` sits below them.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from irkit.aws.session import Clients
from irkit.errors import RunbookError
from irkit.gaps import Gap

if TYPE_CHECKING:
    from irkit.aws.session import Aws, Clients
    from irkit.config import AgentSettings, Settings
    from irkit.engine.case import Case
    from irkit.engine.journal import Journal

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Option:
    type: type | tuple[type, ...]
    default: Any
    help: str
    choices: tuple[Any, ...] = ()
    minimum: int | None = None  # for counts: workers: 0 would only fail later, inside the step


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


@dataclass
class RunContext:
    """What a step may use. Built by the executor; steps receive it, they do not build it."""

    settings: Settings
    agent: AgentSettings
    case: Case
    aws: Aws
    journal: Journal
    window_start: datetime
    window_end: datetime
    dry_run: bool = False
    outputs: dict[str, Mapping[str, Any]] = field(default_factory=dict)
    """Outputs of completed steps, by step type (the latest wins) and by step id."""
    echo: Callable[[str], None] = print
    clients: Clients | None = None
    """Clients in the agent's account and the log-archive account (assumes ``log_archive.role_arn``)."""

    @property
    def trail(self) -> Clients:
        return self.clients or Clients(self.aws)

    def output(self, step_type: str) -> Mapping[str, Any]:
        return self.outputs.get(step_type, {})

    def act(self, step_id: str, action: Action, fn: Callable[[], T]) -> T:
        """Journal an action before and after it runs; a failure is journaled and re-raised."""
        self.journal.append("action.start", step=step_id, action=action.to_json())
        try:
            result = fn()
        except Exception as exc:
            self.journal.append("action.failed", step=step_id, action=action.to_json(), error=str(exc))
            raise
        self.journal.append("action.done", step=step_id, action=action.to_json())
        return result


class Step(ABC):
    name: ClassVar[str]
    summary: ClassVar[str]
    permissions: ClassVar[tuple[str, ...]] = ()
    """IAM actions the responder role needs for this step (read by `irkit permissions`)."""
    archive_permissions: ClassVar[tuple[str, ...]] = ()
    """IAM actions needed in the log-archive account (the cross-account reader role)."""
    mutates: ClassVar[bool] = False
    options: ClassVar[Mapping[str, Option]] = {}

    def __init__(self, step_id: str, options: Mapping[str, Any] | None = None) -> None:
        self.step_id = step_id
        merged = {k: o.default for k, o in self.options.items()}
        merged.update(options or {})
        self.validate_options(merged)
        self.opts: Mapping[str, Any] = merged

    @classmethod
    def validate_options(cls, options: Mapping[str, Any]) -> None:
        for key, value in options.items():
            if key not in cls.options:
                allowed = ", ".join(sorted(cls.options)) or "(none)"
                raise RunbookError(f"{key}: unknown option for step {cls.name!r} (allowed: {allowed})")
            spec = cls.options[key]
            wants_bool = spec.type is bool or (isinstance(spec.type, tuple) and bool in spec.type)
            if value is not None and (
                not isinstance(value, spec.type) or (isinstance(value, bool) and not wants_bool)
            ):
                raise RunbookError(f"{key}: expected {_type_name(spec.type)}, got {type(value).__name__}")
            if spec.minimum is not None and isinstance(value, int) and value < spec.minimum:
                raise RunbookError(f"{key}: must be at least {spec.minimum}, got {value}")
            if spec.choices and value not in spec.choices:
                raise RunbookError(f"{key}: expected one of {', '.join(map(str, spec.choices))}")

    @abstractmethod
    def plan(self, ctx: RunContext) -> Plan:
        """Read-only: what this step would do. Must not change anything anywhere."""

    @abstractmethod
    def apply(self, ctx: RunContext, plan: Plan) -> StepResult:
        """Carry out ``plan`` (and only it), journaling each action through ``ctx.act``."""


def _type_name(t: type | tuple[type, ...]) -> str:
    if isinstance(t, tuple):
        return " or ".join(x.__name__ for x in t)
    return t.__name__


_REGISTRY: dict[str, type[Step]] = {}

S = TypeVar("S", bound=type[Step])


def register(cls: S) -> S:
    if cls.name in _REGISTRY and _REGISTRY[cls.name] is not cls:
        raise RuntimeError(f"step {cls.name!r} registered twice")
    _REGISTRY[cls.name] = cls
    return cls


def registered() -> Mapping[str, type[Step]]:
    return _REGISTRY
