"""`irkit runbook list | show NAME | validate FILE`."""

from __future__ import annotations

from pathlib import Path

import typer
from tabulate import tabulate

from irkit.commands._common import echo, print_json
from irkit.engine.runbook import load_runbook, shipped_runbooks
from irkit.steps import registry

runbook_app = typer.Typer(help="List, show and validate runbooks.", no_args_is_help=True)


AS_JSON = typer.Option(False, "--json", help="one JSON object on stdout")


@runbook_app.command("list")
def list_runbooks(as_json: bool = AS_JSON) -> None:
    """The shipped runbooks.

    Example: irkit runbook list --json

    Exit codes: 0 listed · 2 a shipped runbook does not validate.
    """
    books = {name: load_runbook(str(path)) for name, path in shipped_runbooks().items()}
    if as_json:
        print_json({"runbooks": [
            {"name": name, "steps": [s.id for s in b.steps], "description": " ".join(b.description.split()),
             "source": str(b.source)}
            for name, b in books.items()
        ]})  # fmt: skip
        return
    rows = [[name, len(b.steps), " ".join(b.description.split())[:90]] for name, b in books.items()]
    echo(tabulate(rows, headers=["runbook", "steps", "description"]))


@runbook_app.command("show")
def show(
    name: str = typer.Argument(..., help="a shipped runbook name or a YAML file"), as_json: bool = AS_JSON
) -> None:
    """The steps of a runbook, in order, with what each does and needs.

    Example: irkit runbook show agent-compromise

    Exit codes: 0 shown · 2 no such runbook, or it does not validate.
    """
    book = load_runbook(name)
    steps = registry()
    entries = []
    for spec in book.steps:
        cls = steps[spec.step]
        entries.append({"id": spec.id, "step": spec.step, "mutates": bool(cls.mutates), "approval": bool(spec.approval),
                        "what": spec.description or cls.summary, "permissions": list(cls.permissions)})  # fmt: skip
    if as_json:
        print_json({"name": book.name, "description": " ".join(book.description.split()), "source": str(book.source),
                    "steps": entries})  # fmt: skip
        return
    echo(f"{book.name}: {' '.join(book.description.split())}")
    echo(f"source: {book.source}\n")
    rows = []
    for i, e in enumerate(entries, start=1):
        flags = [f for f, on in (("changes AWS", e["mutates"]), ("approval", e["approval"])) if on]
        rows.append([i, e["id"], e["step"], ", ".join(flags), e["what"]])
    echo(tabulate(rows, headers=["#", "id", "step", "", "what it does"]))


@runbook_app.command("validate")
def validate(file: Path = typer.Argument(..., help="runbook YAML file")) -> None:
    """Check a runbook completely (steps exist, options valid) without running it.

    Example: irkit runbook validate runbooks/my-runbook.yaml

    Exit codes: 0 valid · 2 not (the bad key is named with its path).
    """
    book = load_runbook(str(file))
    echo(f"{file}: valid runbook {book.name!r} with {len(book.steps)} steps")


def register(app: typer.Typer) -> None:
    app.add_typer(runbook_app, name="runbook")
