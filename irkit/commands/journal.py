"""`irkit journal verify CASE`: check a case's hash-chained journal and name every break.

Exit codes: 0 the chain is intact, 1 it is broken (each break named: line, entry kind, and whether
an entry was edited, removed, inserted, reordered or torn), 2 usage (no such case or journal).
Read-only: it never repairs, never takes the case lock, never writes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from irkit.commands._common import echo, print_json
from irkit.core.journal import ChainCheck, check_chain
from irkit.errors import CaseError, ExitCode

SHOWN = 100
"""Problems listed on screen and in --json (the total is always said)."""

journal_app = typer.Typer(help="Check a case's journal.", no_args_is_help=True)


def _journal_path(case: Path) -> Path:
    path = case / "journal.jsonl" if case.is_dir() else case
    if not path.is_file():
        if case.is_dir():
            raise CaseError(f"{case}: no journal.jsonl (not an irkit case folder, or no run has started)")
        raise CaseError(f"{case}: no such case folder or journal file")
    return path


def render(check: ChainCheck) -> list[str]:
    if check.intact:
        head = f"seq {check.head_seq}, hash {check.head_hash}" if check.head_seq is not None else "empty"
        lines = [f"journal {check.path}: intact ({check.entries} entries; head {head})"]
    else:
        first = check.problems[0]
        lines = [
            f"journal {check.path}: BROKEN: {len(check.problems)} problem(s), the first at line {first.line}",
            *(f"  {p}" for p in check.problems[:SHOWN]),
        ]
        if len(check.problems) > SHOWN:
            lines.append(f"  … and {len(check.problems) - SHOWN} more")
        lines.append(
            "The record can no longer be trusted past the first break: keep the folder as evidence and start"
            " a new case with `irkit contain AGENT` (its snapshots are what `irkit restore` needs)."
        )
    lines.extend(f"  note: {n}" for n in check.notes[:SHOWN])
    return lines


@journal_app.command("verify")
def verify(
    case: Annotated[Path, typer.Argument(help="a case folder (irkit-cases/IR-…) or its journal.jsonl")],
    as_json: Annotated[bool, typer.Option("--json", help="one JSON object on stdout")] = False,
) -> None:
    """Verify the journal's hash chain; read-only (never repairs, never locks).

    Example: irkit journal verify irkit-cases/IR-20261125-205224-infra-optimizer

    Exit codes: 0 intact · 1 broken (every break named) · 2 usage error.
    """
    try:
        path = _journal_path(case)
        try:
            check = check_chain(path)
        except OSError as exc:
            raise CaseError(f"{path}: cannot read: {exc.strerror}") from None
    except CaseError as exc:
        if as_json:
            print_json({"error": {"code": "usage", "message": str(exc)}})
            raise typer.Exit(int(ExitCode.USAGE)) from None
        raise
    if as_json:
        print_json(check.to_json(limit=SHOWN))
    else:
        for line in render(check):
            echo(line)
    raise typer.Exit(int(ExitCode.OK if check.intact else ExitCode.STEP_FAILED))


def register(app: typer.Typer) -> None:
    app.add_typer(journal_app, name="journal")
