"""`irkit cases [--out DIR]`: the case folders, with agent, status, start time and what is pending.

```
irkit cases
irkit cases --out /srv/irkit-cases --json
```
Read-only: no case is locked, repaired or written. Exit 0 (an empty or missing folder lists
nothing), 2 when the folder cannot be read.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from tabulate import tabulate

from irkit.commands._common import echo, print_json
from irkit.engine.cases import list_cases
from irkit.escape import terminal


def cases(
    out: Annotated[Path, typer.Option("--out", help="folder of case folders")] = Path("irkit-cases"),
    as_json: Annotated[bool, typer.Option("--json", help="one JSON object on stdout")] = False,
) -> None:
    """List the case folders under --out: agent, status, start time and the steps still pending.

    Example: irkit cases --out ./irkit-cases

    Exit codes: 0 listed (also when there is none), 2 the folder cannot be read.
    """
    found, more = list_cases(out)
    if as_json:
        print_json({"out": str(out), "cases": [c.to_json() for c in found], "not_listed": more})
        raise typer.Exit(0)
    if not found:
        echo(f"no case folders in {out}")
        raise typer.Exit(0)
    rows = [
        [
            terminal(c.case_id, limit=80),
            terminal(c.agent, limit=40),
            c.status,
            c.created,
            terminal(", ".join(c.pending), limit=80) or "-",
        ]
        for c in found
    ]
    echo(tabulate(rows, headers=["case", "agent", "status", "started", "pending"], disable_numparse=True))
    for c in found:
        if c.resume:
            echo(f"  {c.case_id}: {c.resume}")
        if c.problem:
            echo(f"  {c.case_id}: {c.problem}")
    if more:
        echo(f"… and {more} more case folders not listed")


def register(app: typer.Typer) -> None:
    app.command("cases")(cases)
