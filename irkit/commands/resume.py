"""`irkit resume CASE`: continue an interrupted or approval-gated run."""

from __future__ import annotations

from pathlib import Path

import typer

from irkit.commands._common import Profile, Region, echo, echo_err, with_aws
from irkit.commands.contain import finish
from irkit.engine.cases import resolve_case
from irkit.engine.run import resume_run


def resume(
    case: str = typer.Argument(..., metavar="CASE|ID", help="the case folder, or a case id under --out"),
    approve: list[str] = typer.Option([], "--approve", help="approve this step (repeatable)"),
    yes: bool = typer.Option(False, "--yes", "-y", help="approve every approval gate"),
    max_actions: int | None = typer.Option(
        None, "--max-actions", help="refuse to contain when more actions are planned (default: the case's)"
    ),
    as_json: bool = typer.Option(False, "--json", help="print the outcome as JSON"),
    out: Path = typer.Option(Path("irkit-cases"), "--out", help="where a case ID is looked up"),
    profile: Profile = None,
    region: Region = None,
) -> None:
    """Continue CASE from the first step that did not finish; completed steps are skipped.

    A containment step that did not contain (IAM unreachable, a refusal over --max-actions) is tried
    again, and the completed steps that read it run again (contain_chain, report), so the report
    says what happened.

    Example: irkit resume IR-20261125-205224-infra-optimizer --approve revert

    Exit codes: 0 done, 1 a step failed, 2 usage error or no AWS credentials, 3 done with coverage
    gaps, 4 awaiting approval, 130 interrupted.
    """
    result = resume_run(
        resolve_case(case, out),
        approvals=approve,
        assume_yes=yes,
        echo=echo_err if as_json else echo,
        confirm=lambda q: typer.confirm(q, default=False),
        max_actions=max_actions,
        aws=lambda settings: with_aws(settings, profile=profile, region=region),
    )
    finish(result, as_json=as_json)


def register(app: typer.Typer) -> None:
    app.command("resume")(resume)
