"""`irkit revert CASE`: the revert stage for an existing case — plan, show, approve, apply exactly that plan.

Without ``--yes`` and without a terminal the plan is saved and the command stops (exit 4); ``irkit
revert CASE --yes`` then applies exactly the plan that was shown (the pending one, found in the
journal and checked by its SHA-256 — the runbook's own revert gate counts too), not a new one.
``--dry-run`` plans everything (in a scratch clone: the repository, the terraform state and AWS are
left exactly as they were) and applies nothing.
"""

from __future__ import annotations

import hashlib
import sys
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer

from irkit.aws.session import Aws, Clients
from irkit.commands._common import echo, echo_err, print_json
from irkit.config import load_config
from irkit.core.case import Case
from irkit.core.context import RunContext
from irkit.core.plan import Plan, StepResult
from irkit.errors import CaseError, ExitCode, UsageError
from irkit.steps import registry

STEP_ID = "revert"


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def pending_plan(case: Case) -> tuple[str, str] | None:
    """(plan file in the case, its SHA-256) of a plan shown and not yet applied, or None."""
    pending: tuple[str, str] | None = None
    for entry in case.journal.entries():
        data, kind = entry["data"], entry["kind"]
        if kind == "revert.awaiting_approval":
            pending = (str(data["plan"]), str(data["sha256"]))
        elif kind == "step.awaiting_approval" and entry.get("step") == STEP_ID:
            path = case.root / str(data.get("plan", f"plans/{STEP_ID}.json"))
            pending = (str(data.get("plan", f"plans/{STEP_ID}.json")), _sha(path) if path.exists() else "")
        elif kind == "revert.applied" or (kind == "step.done" and entry.get("step") == STEP_ID):
            pending = None
        elif kind == "revert.planned" and not data.get("dry_run"):
            pending = None  # a newer plan replaces the one shown before (a dry run replaces nothing)
    return pending


def _plan_name(case: Case) -> str:
    n = 1
    while (case.plans_dir / f"revert-cli-{n}.json").exists():
        n += 1
    return f"plans/revert-cli-{n}.json"


def revert(
    case: Annotated[Path, typer.Argument(help="the case folder (irkit-cases/IR-…)")],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="show the whole plan; change nothing, IaC included")
    ] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="apply the plan shown (the pending one, if any)")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="print the plan and the outcome as JSON")] = False,
) -> None:
    """Undo what the agent's credentials changed in CASE: commits, terraform drift, out-of-band API changes."""
    folder = Case.open(case)
    if not folder.config_copy.exists():
        raise CaseError(f"{case}: the case has no copy of its configuration (irkit.yaml)")
    if folder.meta.dry_run and not dry_run:
        raise UsageError(f"{case} is a dry-run case (nothing was contained): revert it with --dry-run only")
    settings = load_config(folder.config_copy)
    agent = settings.agent(folder.meta.agent)
    say = echo_err if as_json else echo
    aws = Aws(settings.aws, dry_run=dry_run)
    ctx = RunContext(
        settings=settings,
        agent=agent,
        case=folder,
        aws=aws,
        journal=folder.journal,
        window_start=datetime.fromisoformat(folder.meta.window_start),
        window_end=datetime.fromisoformat(folder.meta.window_end),
        dry_run=dry_run,
        echo=say,
        clients=Clients(aws, settings.log_archive.role_arn if settings.log_archive else None),
    )
    step = registry()["revert"](STEP_ID, {})
    journal = folder.journal
    pending = None if dry_run else pending_plan(folder)
    if yes and pending is not None:
        name, digest = pending
        path = folder.root / name
        if not path.exists() or _sha(path) != digest:
            raise CaseError(
                f"the pending revert plan {name} is missing or changed since it was shown: run `irkit revert {case}`"
            )
        plan = Plan.from_json(orjson.loads(path.read_bytes()))
        say(f"applying the revert plan shown earlier ({name})")
    else:
        journal.append("revert.start", dry_run=dry_run)
        plan = step.plan(ctx)
        name = _plan_name(folder)
        folder.write_json(name, plan.to_json())
        digest = _sha(folder.root / name)
        journal.append(
            "revert.planned", plan=name, sha256=digest, dry_run=dry_run, actions=[a.to_json() for a in plan.actions]
        )
    say(f"revert plan for case {folder.case_id}" + ("  [DRY RUN: no change will be made]" if dry_run else ""))
    show(plan, say)

    code = ExitCode.GAPS if plan.gaps else ExitCode.OK
    result: StepResult | None = None
    awaiting = False
    if dry_run or not plan.actions:
        journal.append("revert.end", exit_code=int(code), applied=0, dry_run=dry_run)
    elif not yes and not (sys.stdin.isatty() and typer.confirm(f"Apply {len(plan.actions)} revert actions?")):
        if sys.stdin.isatty():
            journal.append("revert.declined", plan=name)
            say("declined: nothing changed")
            code = ExitCode.STEP_FAILED
        else:
            journal.append("revert.awaiting_approval", plan=name, sha256=digest)
            say(f"waiting for approval: `irkit revert {case} --yes` applies exactly this plan")
            code, awaiting = ExitCode.AWAITING_APPROVAL, True
    else:
        journal.append("step.approved", step=STEP_ID, by="--yes" if yes else "interactive", plan=name)
        result = step.apply(ctx, plan)
        gaps = list(plan.gaps) + [g for g in result.gaps if g not in plan.gaps]
        journal.append(
            "step.done",
            step=STEP_ID,
            type="revert",
            status="done",
            summary=result.summary,
            output=dict(result.output),
            gaps=[g.to_json() for g in gaps],
        )
        journal.append("revert.applied", plan=name, sha256=digest)
        code = ExitCode.GAPS if gaps else ExitCode.OK
        finish(ctx, result, say)
    if as_json:
        out: dict[str, Any] = {
            "case": folder.case_id,
            "case_dir": str(folder.root),
            "exit_code": int(code),
            "dry_run": dry_run,
            "plan": plan.to_json() | {"file": name},
            "awaiting_approval": awaiting,
            "applied": result is not None,
            "revert": dict(result.output) if result else None,
            "gaps": [g.to_json() for g in (list(plan.gaps) + list(result.gaps if result else ()))],
        }
        print_json(out)
    raise typer.Exit(int(code))


def show(plan: Plan, say: Any) -> None:
    revert = plan.data.get("revert") or {}
    for row in revert.get("changes") or []:
        where = f" (terraform: {row['managed_by']})" if row.get("path") == "iac" else ""
        head = f"    change {row['event_name']} {row['resource']} [{row['reversibility']}]"
        say(f"{head} → {row['path']}{where}: {row['status']}")
    for action in plan.actions:
        say(f"    - {action.kind} {action.target}" + (f": {action.detail}" if action.detail else ""))
    if not plan.actions:
        say("    (nothing to change)")
    for note in plan.notes:
        say(f"    note: {note}")
    for gap in plan.gaps:
        say(f"    gap: {gap.path}: {gap.reason}")


def finish(ctx: RunContext, result: StepResult, say: Any) -> None:
    say(f"  ✓ revert: {result.summary}")
    left = [c for c in result.output.get("changes", []) if c.get("status") == "present"]
    if left:
        typer.secho(
            f"REVERT INCOMPLETE: {len(left)} change(s) still in place", fg=typer.colors.RED, bold=True, err=True
        )
    if (ctx.case.root / "report.md").exists():  # the report already written gets its revert section
        report = registry()["report"]("report", {})
        report.apply(ctx, report.plan(ctx))
        say(f"report: {ctx.case.root / 'report.md'}")


def register(app: typer.Typer) -> None:
    app.command("revert")(revert)
