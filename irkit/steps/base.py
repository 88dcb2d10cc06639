"""What a runbook step is: a registered class with declared options and IAM permissions,
a read-only ``plan()`` and an ``apply()`` that carries out exactly that plan.

```python
@register
class Contain(Step):
    name = "contain"                      # registry key == module name == runbook `step:`
    permissions = ("iam:UpdateAccessKey",)  # what the responder role needs (→ irkit permissions)
    mutates = True                        # a dry run plans it and skips apply
```
Steps never see ``--dry-run``: the guard in :mod:`irkit.aws.guard` sits below them.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

from irkit.core.context import RunContext
from irkit.core.plan import Plan, StepResult
from irkit.errors import RunbookError


@dataclass(frozen=True, slots=True)
class Option:
    type: type | tuple[type, ...]
    default: Any
    help: str
    choices: tuple[Any, ...] = ()
    minimum: int | None = None  # for counts: workers: 0 would only fail later, inside the step


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
