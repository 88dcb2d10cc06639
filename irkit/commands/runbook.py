"""`irkit runbook list | show NAME | validate FILE`."""

from __future__ import annotations

from pathlib import Path

import typer
from tabulate import tabulate

from irkit.commands._common import echo
from irkit.engine.runbook import load_runbook, shipped_runbooks
from irkit.steps import registry

runbook_app = typer.Typer(help="List, show and validate runbooks.", no_args_is_help=True)


@runbook_app.command("list")
def list_runbooks() -> None:
    """The shipped runbooks."""
    rows = []
    for name, path in shipped_runbooks().items():
        book = load_runbook(str(path))
        rows.append([name, len(book.steps), " ".join(book.description.split())[:90]])
    echo(tabulate(rows, headers=["runbook", "steps", "description"]))


@runbook_app.command("show")
def show(name: str = typer.Argument(..., help="a shipped runbook name or a YAML file")) -> None:
    """The steps of a runbook, in order, with what each does and needs."""
    book = load_runbook(name)
    echo(f"{book.name}: {' '.join(book.description.split())}")
    echo(f"source: {book.source}\n")
    steps = registry()
    rows = []
    for i, spec in enumerate(book.steps, start=1):
        cls = steps[spec.step]
        flags = []
        if cls.mutates:
            flags.append("changes AWS")
        if spec.approval:
            flags.append("approval")
        rows.append([i, spec.id, spec.step, ", ".join(flags), spec.description or cls.summary])
    echo(tabulate(rows, headers=["#", "id", "step", "", "what it does"]))


@runbook_app.command("validate")
def validate(file: Path = typer.Argument(..., help="runbook YAML file")) -> None:
    """Check a runbook completely (steps exist, options valid) without running it; exit 2 if not."""
    book = load_runbook(str(file))
    echo(f"{file}: valid runbook {book.name!r} with {len(book.steps)} steps")


def register(app: typer.Typer) -> None:
    app.add_typer(runbook_app, name="runbook")
