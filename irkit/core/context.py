"""The run context: what a step may use (settings, the case, AWS clients, the journal, the window).
Built by the engine; steps and stages receive it, they do not build it."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

from irkit.aws.session import Clients
from irkit.core.plan import Action

if TYPE_CHECKING:
    from irkit.aws.session import Aws
    from irkit.config import AgentSettings, Settings
    from irkit.core.case import Case
    from irkit.core.journal import Journal

T = TypeVar("T")


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
