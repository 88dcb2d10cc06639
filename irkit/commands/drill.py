"""`irkit drill`: rehearse the response on an embedded AWS simulator; exit 0 only when it passed."""

from __future__ import annotations

from pathlib import Path

import typer
from tabulate import tabulate

from irkit.commands._common import echo, echo_err, print_json
from irkit.drill.runner import run_scenario, select


def drill(
    scenarios: list[str] = typer.Argument(None, help="scenario names (default: hidden-admin-role)"),
    run_all: bool = typer.Option(False, "--all", help="run every scenario"),
    dry_run: bool = typer.Option(False, "--dry-run", help="rehearse a dry run: nothing may change"),
    out: Path = typer.Option(Path("irkit-drills"), "--out", help="folder for the drills' case folders"),
    as_json: bool = typer.Option(False, "--json", help="print the scorecard as JSON"),
) -> None:
    """Build a simulated AWS world, compromise its agent, run `contain` against it, score the result.

    Example: irkit drill --all --json

    Exit codes: 0 every scenario passed · 1 a scenario failed (its problems listed) · 2 usage error.
    """
    chosen = select(scenarios or [], run_all=run_all)
    say = echo_err if as_json else echo
    results = [run_scenario(s, out=out, dry_run=dry_run, echo=say) for s in chosen]
    if as_json:
        print_json({"scenarios": [r.to_json() for r in results]})
    else:
        echo("")
        rows = [
            [
                r.name,
                "PASS" if r.passed else "FAIL",
                "yes" if r.contained else "no",
                f"{sum(1 for e in r.expected if e in r.detected)}/{len(r.expected)}",
                len(r.residual),
                f"{r.seconds:.1f}s",
            ]
            for r in results
        ]
        echo(tabulate(rows, headers=["scenario", "result", "contained", "detected", "residual", "time"]))
        for r in results:
            for problem in r.problems:
                echo(f"  {r.name}: {problem}")
            for item in r.residual:
                echo(f"  {r.name}: left by the attacker (review and remove): {item}")
            for item in r.losses:
                echo(f"  {r.name}: lost, not reversible: {item}")
            echo(f"  {r.name}: report {r.report}")
    raise typer.Exit(0 if all(r.passed for r in results) else 1)


def register(app: typer.Typer) -> None:
    app.command("drill")(drill)
