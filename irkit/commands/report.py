"""`irkit report CASE [--format md|json]`: render the report again from the case folder.

```
irkit report irkit-cases/IR-20261125-031209-infra-optimizer
irkit report IR-20261125-031209-infra-optimizer --out ./irkit-cases --format json | jq .summary
```
Rebuilds report.json from the journal, findings.json and the evidence (so after ``irkit resume`` the
report matches the journal again), renders report.md from that dict, writes both into the case and
prints the chosen format on stdout. Calls no AWS API. Exit 0, 2 when CASE is not a readable case.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import orjson
import typer

from irkit.commands._common import echo_err
from irkit.config import load_config
from irkit.core.case import Case
from irkit.errors import ConfigError, UsageError
from irkit.escape import terminal

FORMATS = ("md", "json")


def _principals(folder: Case) -> list[str]:
    """The agent's principals from the case's copy of its configuration; the last report's when the
    copy cannot be read (the report says what it was built with, it never guesses more)."""
    try:
        return [p.arn for p in load_config(folder.config_copy).agent(folder.meta.agent).principals]
    except (ConfigError, OSError, KeyError):
        previous = folder.read_json("report.json") or {}
        listed = previous.get("principals") if isinstance(previous, dict) else None
        return [str(p) for p in listed] if isinstance(listed, list) else []


def report(
    case: Annotated[Path, typer.Argument(metavar="CASE|ID", help="the case folder, or a case id under --out")],
    fmt: Annotated[str, typer.Option("--format", help="what to print on stdout: md or json")] = "md",
    out: Annotated[Path, typer.Option("--out", help="where a case ID is looked up")] = Path("irkit-cases"),
) -> None:
    """Render CASE's report again (report.json, then report.md from it) and print it.

    Example: irkit report irkit-cases/IR-20261125-031209-infra-optimizer --format json

    Exit codes: 0 written and printed, 2 CASE is not a case folder (or is held by a run).
    """
    if fmt not in FORMATS:
        raise UsageError(f"--format {fmt!r}: use md or json")
    from irkit.engine.cases import resolve_case
    from irkit.report.write import write_report

    path = resolve_case(str(case), out)
    # The case lock: a report written while a resume appends to the journal would describe neither.
    with Case.open(path, command=f"irkit report {path}") as folder:
        written = write_report(folder, agent_principals=_principals(folder))
    if fmt == "json":
        typer.echo(orjson.dumps(written.doc, option=orjson.OPT_INDENT_2).decode())
    else:
        # report.md is escaped for markdown; on a terminal, controls are shown as text too.
        typer.echo(terminal(written.markdown_text, newlines=True))
    echo_err(f"report written to {written.markdown} and {written.json}")


def register(app: typer.Typer) -> None:
    app.command("report")(report)
