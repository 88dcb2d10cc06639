"""`irkit restore CASE`: undo containment from the case's snapshots, with a plan, dry-run and approval."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from irkit.aws.session import Aws
from irkit.commands._common import Profile, Region, echo, echo_err, print_json, with_aws
from irkit.config import load_config
from irkit.contain.restore import RestoreResult, apply_restore, plan_restore
from irkit.core.case import Case
from irkit.engine.cases import resolve_case
from irkit.errors import CaseError, ExitCode
from irkit.escape import terminal
from irkit.redact import redact_text


def restore(
    case: Annotated[Path, typer.Argument(metavar="CASE|ID", help="the case folder, or a case id under --out")],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="print the plan only: mutating calls are refused")
    ] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="apply without asking")] = False,
    include_chain: Annotated[
        bool,
        typer.Option(
            "--include-chain", help="also restore what the agent's credentials created (re-opens it)"
        ),
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="print the plan and outcome as JSON")] = False,
    profile: Profile = None,
    region: Region = None,
    out: Annotated[Path, typer.Option("--out", help="where a case ID is looked up")] = Path("irkit-cases"),
) -> None:
    """Return every principal the case contained to its snapshot (console passwords excepted).

    What the credential chain made is held back, each item listed with the event that condemned it:
    an access key the stolen credentials created on the agent's own user stays Inactive while the
    agent's original key returns to Active. --include-chain re-opens them, with a warning.

    Example: irkit restore IR-20261125-205224-infra-optimizer --dry-run

    Exit codes: 0 restored · 1 an action failed or the operator declined · 2 usage error · 3 restored
    with gaps (a console password to set by hand, a principal that still differs) · 4 awaiting --yes.
    """
    case = resolve_case(str(case), out)
    # The case lock: a restore and a resume (or a second restore) never act on one case at once.
    with Case.open(case, command=f"irkit restore {case}" + (" --dry-run" if dry_run else "")) as folder:
        if not folder.config_copy.exists():
            raise CaseError(f"{case}: the case has no copy of its configuration (irkit.yaml)")
        settings = with_aws(load_config(folder.config_copy), profile=profile, region=region)
        say = echo_err if as_json else echo
        aws = Aws(settings.aws, dry_run=dry_run)
        iam = aws.client("iam")
        journal = folder.journal
        journal.append("restore.start", dry_run=dry_run, include_chain=include_chain)
        plan = plan_restore(iam, folder, include_chain=include_chain)
        journal.append("restore.planned", **plan.to_json())
        say(
            f"restore plan for case {folder.case_id}" + ("  [DRY RUN: no change will be made]" if dry_run else "")
        )
        for action in plan.actions:
            say(f"    - {action.kind} {action.target}: {action.detail}")
        if not plan.actions:
            say("    (nothing to change)")
        for item in plan.held_back:
            say(f"    held back: {item.describe()}")
        for note in plan.notes:
            say(f"    note: {note}")
        for warning in plan.warnings:
            typer.secho(terminal(redact_text(f"    WARNING: {warning}")), fg=typer.colors.RED, bold=True, err=as_json)
        for gap in plan.gaps:
            say(f"    gap: {gap.path}: {gap.reason}")

        code = ExitCode.GAPS if plan.gaps else ExitCode.OK
        result = RestoreResult(plan)
        if dry_run or not plan.actions:
            journal.append("restore.end", exit_code=int(code), applied=0, dry_run=dry_run)
        elif not yes and not (
            sys.stdin.isatty() and typer.confirm(f"Apply {len(plan.actions)} restore actions?")
        ):
            if sys.stdin.isatty():
                journal.append("restore.declined")
                say("declined: nothing changed")
                code = ExitCode.STEP_FAILED
            else:
                journal.append("restore.awaiting_approval")
                say(f"waiting for approval: irkit restore {case} --yes")
                code = ExitCode.AWAITING_APPROVAL
        else:
            result = apply_restore(iam, folder, plan, journal)
            if result.failed:
                code = ExitCode.STEP_FAILED
            elif result.remaining:
                code = ExitCode.GAPS
            journal.append(
                "restore.end",
                exit_code=int(code),
                applied=len(result.applied),
                failed=[g.to_json() for g in result.failed],
                remaining=result.remaining,
            )
            say(f"restored: {len(result.applied)}/{len(plan.actions)} actions applied")
            for gap in result.failed:
                say(f"failed: {gap.path}: {gap.reason}")
            for arn, fields in result.remaining.items():
                say(f"still differs from its snapshot: {arn}: {', '.join(fields)}")
        if as_json:
            print_json(result.to_json() | {"case": folder.case_id, "exit_code": int(code), "dry_run": dry_run})
        raise typer.Exit(int(code))


def register(app: typer.Typer) -> None:
    app.command("restore")(restore)
