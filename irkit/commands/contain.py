"""`irkit contain AGENT`: run the containment runbook for one agent."""

from __future__ import annotations

from pathlib import Path

import typer

from irkit.commands._common import Config, Hours, Profile, Region, echo, echo_err, print_json, with_aws
from irkit.config import load_config, resolve_config_path
from irkit.core.names import CONTAIN_STEPS, canonical_step
from irkit.engine.executor import RunOutcome
from irkit.engine.run import RunResult, start_run
from irkit.engine.runbook import load_runbook
from irkit.escape import terminal
from irkit.gaps import Gap, fold, folded_count


def contain(
    agent: str = typer.Argument(..., metavar="AGENT", help="the agent's name in irkit.yaml"),
    config: Config = None,
    hours: Hours = 24.0,
    runbook: str = typer.Option("agent-compromise", "--runbook", help="a shipped runbook name or a YAML file"),
    dry_run: bool = typer.Option(False, "--dry-run", help="plan only: every mutating AWS call is refused"),
    yes: bool = typer.Option(False, "--yes", "-y", help="approve every approval gate"),
    case: str | None = typer.Option(None, "--case", help="case id (default: IR-<time>-<agent>)"),
    out: Path = typer.Option(Path("irkit-cases"), "--out", help="folder for case folders"),
    max_actions: int = typer.Option(200, "--max-actions", help="refuse to contain when more actions are planned"),
    as_json: bool = typer.Option(False, "--json", help="print the outcome as JSON"),
    profile: Profile = None,
    region: Region = None,
) -> None:
    """Contain AGENT now: revoke its credentials first, then collect, verify, detect and report.

    Before the first step, irkit checks that AWS credentials resolve (exit 2 if not, naming the
    credential chain it tried) and, in the background, that the log archive is readable.

    Example: irkit contain infra-optimizer --hours 6 --yes

    Exit codes: 0 done and contained · 1 a step failed · 2 usage, configuration or no AWS credentials
    (before any step) · 3 done with coverage gaps (CONTAINMENT INCOMPLETE if containment has them:
    irkit resume CASE retries it) · 4 stopped at an approval gate · 130 interrupted (irkit resume CASE).
    """
    path = resolve_config_path(config)
    settings = with_aws(load_config(path), profile=profile, region=region)
    book = load_runbook(runbook)
    settings.agent(agent)  # unknown agent: exit 2 before anything happens
    result = start_run(
        settings,
        agent_name=agent,
        runbook=book,
        hours=hours,
        out=out,
        dry_run=dry_run,
        assume_yes=yes,
        case_id=case,
        config_file=path,
        echo=echo_err if as_json else echo,
        confirm=lambda q: typer.confirm(q, default=False),
        max_actions=max_actions,
    )
    finish(result, as_json=as_json)


def finish(result: RunResult, *, as_json: bool) -> None:
    outcome = result.outcome
    incomplete = containment_gaps(result)
    if as_json:
        # The JSON goes to a script, the warning to the human watching stderr: neither may miss it.
        if incomplete:
            typer.secho(
                f"CONTAINMENT INCOMPLETE: {incomplete} containment gap(s); those credentials may still work",
                fg=typer.colors.RED,
                bold=True,
                err=True,
            )
        print_json(outcome_json(result, containment_gaps=incomplete))
    else:
        echo("")
        for gap in fold(outcome.gaps):  # bounded: a few of each kind, the rest counted
            echo(f"gap: {terminal(gap.path)}: {terminal(gap.reason)}")
        if incomplete:
            typer.secho(
                f"CONTAINMENT INCOMPLETE: {incomplete} containment gap(s) above; those credentials may still work",
                fg=typer.colors.RED,
                bold=True,
            )
        report = result.case.root / "report.md"
        if report.exists():
            echo(f"report: {report}")
        echo(_verdict(outcome, result))
    raise typer.Exit(int(outcome.exit_code))


def containment_gaps(result: RunResult) -> int:
    """How many gaps the containment steps left: what a responder must fix by hand, now."""
    last: dict[str, dict[str, object]] = {}  # a step run again in a resume: its last attempt counts
    for entry in result.case.journal.entries():
        step_type = canonical_step(str(entry["data"].get("type")))
        if entry["kind"] in {"step.done", "step.failed"} and step_type in CONTAIN_STEPS:
            last[str(entry.get("step"))] = entry
    count = 0
    for entry in last.values():
        data = entry["data"]
        assert isinstance(data, dict)
        if entry["kind"] == "step.done":
            # step.done's gaps are folded (a few named, the rest counted): count what they stand for.
            count += folded_count(Gap(str(g.get("path", "")), str(g.get("reason", ""))) for g in data.get("gaps", []))
            if not data.get("gaps") and (data.get("output") or {}).get("complete") is False:
                count += 1  # not contained, even without a named gap
        else:
            count += 1
    return count


def _verdict(outcome: RunOutcome, result: RunResult) -> str:
    if outcome.awaiting:
        step = outcome.awaiting
        return f"stopped: step {step} awaits approval: irkit resume {result.case.root} --approve {step}"
    if outcome.failed:
        return f"done with failed steps: {', '.join(outcome.failed)} (exit 1)"
    if outcome.gaps:
        return f"done with {folded_count(outcome.gaps)} coverage gaps (exit 3)"
    return "done"


def outcome_json(result: RunResult, *, containment_gaps: int = 0) -> dict[str, object]:
    outcome = result.outcome
    dry_run = result.case.meta.dry_run
    findings_doc = result.case.read_json("findings.json")
    detected = isinstance(findings_doc, dict)
    # A run is contained only when its containment steps ran, re-read IAM and left no gap: a dry run
    # changed nothing, and a run stopped before containment finished contained nothing for sure.
    ran = [s for s in outcome.steps if canonical_step(s.step) in CONTAIN_STEPS and s.status == "done"]
    complete = not dry_run and containment_gaps == 0 and bool(ran) and not outcome.awaiting
    return {
        "case": result.case.case_id,
        "case_dir": str(result.case.root),
        "exit_code": int(outcome.exit_code),
        "dry_run": dry_run,
        "steps": [{"id": s.step_id, "step": s.step, "status": s.status, "summary": s.summary} for s in outcome.steps],
        "gaps": [g.to_json() for g in outcome.gaps],
        "awaiting_approval": outcome.awaiting,
        "containment_complete": complete,
        "containment_gaps": containment_gaps,
        # The findings as `irkit analyze --json` shapes them (findings.json holds the same list).
        "events": int(findings_doc.get("events") or 0) if detected else 0,
        "files": int(findings_doc.get("files") or 0) if detected else 0,
        "analysed": detected and bool(findings_doc.get("events")),
        "findings": list(findings_doc.get("findings") or []) if detected else [],
        "chain": list(findings_doc.get("chain") or []) if detected else [],
        "report": str(result.case.root / "report.md"),
    }


def register(app: typer.Typer) -> None:
    app.command("contain")(contain)
