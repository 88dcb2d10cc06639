"""`irkit rules list`: the detection library (event rules, sequences, baseline deviations, Sigma rules).

```
irkit rules list [--attack] [--sigma DIR]... [--json]
```
``--attack`` prints the ATT&CK coverage instead: every cloud technique CloudTrail can show, with the
rules that name it (none: not covered). ``--sigma DIR`` adds the Sigma rules loaded from DIR and names
the ones refused (exit 3 when any is).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer

from irkit.errors import ExitCode, UsageError
from irkit.gaps import fold


def register(app: typer.Typer) -> None:
    rules_app = typer.Typer(help="The detection rules irkit runs.", no_args_is_help=True)

    @rules_app.command("list")
    def list_rules(
        attack: Annotated[
            bool, typer.Option("--attack", help="ATT&CK technique → rules, covered and not covered.")
        ] = False,
        sigma_dirs: Annotated[
            list[Path] | None,
            typer.Option("--sigma", help="Include the Sigma CloudTrail rules in this folder (repeatable)."),
        ] = None,
        as_json: Annotated[bool, typer.Option("--json", help="One JSON object on stdout.")] = False,
    ) -> None:
        """List every rule with its severity and MITRE ATT&CK techniques.

        Example: irkit rules list --attack --json

        Exit codes: 0 listed · 2 usage error · 3 a --sigma rule was refused (named).
        """
        from irkit.commands._table import table
        from irkit.detect import catalog as catalogue  # looked up when called (tests replace it)
        from irkit.detect.attack import coverage
        from irkit.detect.sigma import load_sigma

        for folder in sigma_dirs or ():
            if not folder.exists():
                raise UsageError(f"--sigma {folder}: no such folder")
        sigma = load_sigma(sigma_dirs) if sigma_dirs else None
        entries = catalogue.catalog(sigma.rules if sigma is not None else ())
        refused = fold(sigma.gaps) if sigma is not None else []
        if as_json:
            doc: dict[str, Any] = {"attack": coverage(entries)} if attack else {"rules": entries}
            if sigma is not None:
                doc["sigma"] = sigma.summary()
            sys.stdout.write(orjson.dumps(doc).decode() + "\n")
        elif attack:
            rows = [
                [r["tactic"], r["technique"], r["name"], ", ".join(r["rules"]) or "NOT COVERED"]
                for r in coverage(entries)
            ]
            covered = sum(1 for r in rows if r[3] != "NOT COVERED")
            typer.echo(table(rows, headers=["tactic", "technique", "name", "rules"]))
            typer.echo(f"\n{covered} of {len(rows)} techniques covered")
        else:
            rows = [[e["id"], e["kind"], e["severity"], ", ".join(e["mitre"]), e["title"]] for e in entries]
            typer.echo(table(rows, headers=["id", "kind", "severity", "mitre", "title"]))
        if sigma is not None and not as_json:
            typer.echo(
                f"\nsigma: {len(sigma.rules)} rules loaded from {sigma.files} files, {len(sigma.gaps)} refused, "
                f"{sigma.skipped} for other log sources"
            )
            for gap in refused:
                typer.echo(f"  refused {gap.path}: {gap.reason}")
        if refused:
            raise typer.Exit(int(ExitCode.GAPS))

    app.add_typer(rules_app, name="rules")
