"""`irkit rules list`: the detection library (event rules, sequences, baseline deviations)."""

from __future__ import annotations

import sys
from typing import Annotated, Any

import orjson
import typer
from tabulate import tabulate

from irkit.detect.catalog import catalog


def register(app: typer.Typer) -> None:
    rules_app = typer.Typer(help="The detection rules irkit runs.", no_args_is_help=True)

    @rules_app.command("list")
    def list_rules(
        as_json: Annotated[bool, typer.Option("--json", help="One JSON object on stdout.")] = False,
    ) -> None:
        """List every rule with its severity and MITRE ATT&CK techniques."""
        entries = catalog()
        if as_json:
            doc: dict[str, Any] = {"rules": entries}
            sys.stdout.write(orjson.dumps(doc).decode() + "\n")
            return
        rows = [[e["id"], e["kind"], e["severity"], ", ".join(e["mitre"]), e["title"]] for e in entries]
        typer.echo(tabulate(rows, headers=["id", "kind", "severity", "mitre", "title"]))

    app.add_typer(rules_app, name="rules")
