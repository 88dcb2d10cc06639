"""`irkit resume CASE`: continue an interrupted or approval-gated run."""

from __future__ import annotations

from pathlib import Path

import typer

from irkit.commands._common import echo, echo_err
from irkit.commands.contain import finish
from irkit.engine.run import resume_run


def resume(
    case: Path = typer.Argument(..., help="the case folder"),
    approve: list[str] = typer.Option([], "--approve", help="approve this step (repeatable)"),
    yes: bool = typer.Option(False, "--yes", "-y", help="approve every approval gate"),
    max_actions: int | None = typer.Option(
        None, "--max-actions", help="refuse to contain when more actions are planned (default: the case's)"
    ),
    as_json: bool = typer.Option(False, "--json", help="print the outcome as JSON"),
) -> None:
    """Continue CASE from the first step that did not finish; completed steps are skipped."""
    result = resume_run(
        case,
        approvals=approve,
        assume_yes=yes,
        echo=echo_err if as_json else echo,
        confirm=lambda q: typer.confirm(q, default=False),
        max_actions=max_actions,
    )
    finish(result, as_json=as_json)


def register(app: typer.Typer) -> None:
    app.command("resume")(resume)
