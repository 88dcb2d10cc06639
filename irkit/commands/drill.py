"""`irkit drill`: rehearse the response on an embedded AWS simulator; exit 0 only when it passed."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from irkit.commands._common import echo, echo_err, print_json
from irkit.errors import UsageError

if TYPE_CHECKING:
    from irkit.drill.runner import ScenarioResult


def drill(
    scenarios: list[str] = typer.Argument(None, help="scenario names (default: hidden-admin-role)"),
    run_all: bool = typer.Option(False, "--all", help="run every scenario"),
    list_only: bool = typer.Option(False, "--list", help="name every scenario with its one-line summary"),
    dry_run: bool = typer.Option(False, "--dry-run", help="rehearse a dry run: nothing may change"),
    keep_world: bool = typer.Option(
        False, "--keep-world", help="keep the simulator up afterwards for by-hand resume/restore/revert"
    ),
    keep_world_minutes: float = typer.Option(
        30.0, "--keep-world-minutes", min=0.0, help="with --keep-world: stop the simulator after N minutes"
    ),
    out: Path = typer.Option(Path("irkit-drills"), "--out", help="folder for the drills' case folders"),
    as_json: bool = typer.Option(False, "--json", help="print the scorecard as JSON"),
) -> None:
    """Build a simulated AWS world, compromise its agent, run `contain` against it, score the result.

    Every scenario is a YAML file (docs/drills.md); `--list` names them. The run approves every step
    (the revert stage included), then reads the world again: a scenario passes when the agent is
    contained, every expected rule fired, nothing of the attacker's is left and nothing was flagged
    above the scenario's limit.

    Example: irkit drill --all --json · irkit drill full-compromise --keep-world

    Exit codes: 0 every scenario passed · 1 a scenario failed (its problems listed) · 2 usage error ·
    130 interrupted.
    """
    from tabulate import tabulate

    from irkit.drill.runner import run_scenario, select
    from irkit.drill.scenarios import all_scenarios

    if list_only:
        known = all_scenarios()
        if as_json:
            print_json({"scenarios": [{"name": s.name, "summary": s.summary} for s in known.values()]})
        else:
            echo(tabulate([[s.name, s.summary] for s in known.values()], headers=["scenario", "summary"]))
        raise typer.Exit(0)
    chosen = select(scenarios or [], run_all=run_all)
    if keep_world and len(chosen) != 1:
        raise UsageError("--keep-world keeps one scenario's world: name exactly one scenario")
    say = echo_err if as_json else echo
    keep = keep_world_minutes if keep_world else None
    results = [run_scenario(s, out=out, dry_run=dry_run, echo=say, keep_world_minutes=keep) for s in chosen]
    if as_json:
        print_json({"scenarios": [r.to_json() for r in results]})
    else:
        echo("")
        echo(scorecard(results))
        for r in results:
            for problem in r.problems:
                echo(f"  {r.name}: {problem}")
            for item in r.residual:
                echo(f"  {r.name}: left by the attacker (review and remove): {item}")
            for item in r.losses:
                echo(f"  {r.name}: lost, not reversible: {item}")
            for item in r.false_positives:
                echo(f"  {r.name}: flagged on the agent's normal activity: {item}")
            if r.report:
                echo(f"  {r.name}: report {r.report}")
        not_run = [r.name for r in results if not r.ran]
        if not_run:
            echo(
                f"  {len(not_run)} scenario(s) not run here, so not passed either: {', '.join(not_run)}"
                " (exit 1 until every scenario ran and passed)"
            )
    # `passed` includes an empty residual, except in a dry run (where nothing may change at all).
    raise typer.Exit(0 if all(r.passed for r in results) else 1)


def scorecard(results: list[ScenarioResult]) -> str:
    from tabulate import tabulate

    rows: list[list[object]] = []
    for r in results:
        rev = r.reverted
        if not r.ran:  # nothing was tried: no column but the time says anything
            rows.append([r.name, "NOT RUN", "-", "-", "-", "-", "-", "-", "-", f"{r.seconds:.1f}s", "-"])
            continue
        rows.append(
            [
                r.name,
                "PASS" if r.passed else "FAIL",
                "yes" if r.contained else "no",
                f"{r.time_to_contain:.1f}s" if r.time_to_contain is not None else "-",
                f"{sum(1 for e in r.expected if e in r.detected)}/{len(r.expected)}",
                len(r.false_positives),
                f"{rev.get('undone', 0)}/{rev.get('changes', 0)}" if rev else "-",
                len(r.residual),
                len(r.losses),
                f"{r.seconds:.1f}s",
                r.report,
            ]
        )
    headers = [
        "scenario",
        "result",
        "contained",
        "to contain",
        "detected",
        "false pos.",
        "reverted",
        "residual",
        "lost",
        "time",
        "report",
    ]
    return str(tabulate(rows, headers=headers))


def register(app: typer.Typer) -> None:
    app.command("drill")(drill)
