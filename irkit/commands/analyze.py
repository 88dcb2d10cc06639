"""`irkit analyze PATH`: run the detection library over local CloudTrail files.

```
irkit analyze evidence/ --principal arn:aws:iam::111111111111:role/agent-infra-optimizer --json
```
Exit 0 when every file was read, 3 when some could not be (the gaps are listed), 2 on bad input.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer
from tabulate import tabulate

from irkit.cloudtrail.reader import ReadStats
from irkit.detect.analyzer import Analysis, analyze_paths
from irkit.detect.baseline import Baseline
from irkit.detect.event import format_time
from irkit.errors import ExitCode, UsageError
from irkit.escape import terminal
from irkit.gaps import fold, folded_count

_PRINCIPAL = re.compile(r"^arn:aws[a-z-]*:(iam|sts)::\d{12}:(user|role|assumed-role)/.+$")


def load_baseline(path: Path) -> Baseline:
    try:
        return Baseline.load(path)
    except FileNotFoundError:
        raise UsageError(f"baseline file not found: {path} (create it with `irkit baseline AGENT`)") from None
    except (OSError, ValueError) as exc:
        raise UsageError(f"cannot use baseline {path}: {exc}") from None


def contract(analysis: Analysis, stats: ReadStats) -> dict[str, Any]:
    """The DESIGN.md ``analyze --json`` object; extra keys are additive."""
    return {
        "events": stats.events,
        "files": stats.files,
        "findings": [
            {
                **f.to_contract(),
                "first_seen": format_time(f.first_seen),
                "detail": f.detail,
                "attribution": f.attribution,
                "evidence": dict(f.evidence),
            }
            for f in analysis.findings
        ],
        "gaps": [g.to_json() for g in fold(stats.gaps)],
        "gaps_total": folded_count(stats.gaps),
        "attributed": analysis.attributed,
        "chain": [link.to_json() for link in analysis.chain],
    }


def _t(value: object, limit: int = 300) -> str:
    """A value from the logs, for the screen: escape sequences shown, never sent; one line; cut."""
    return terminal(value, limit=limit)


def render(analysis: Analysis, stats: ReadStats) -> str:
    """The text report. Every value from the logs goes through :func:`irkit.escape.terminal`: a
    record can carry ESC sequences (window titles, hyperlinks, clear-screen) in any field."""
    lines = [
        f"{stats.events} events in {stats.files} files; {analysis.attributed} analysed; "
        f"{len(analysis.findings)} findings"
    ]
    if analysis.findings:
        rows = [
            [
                f.severity.upper(),
                _t(f.rule_id),
                format_time(f.first_seen),
                _t(f.principal.rsplit(":", 1)[-1]),
                _t(f.detail or f.title),
                f.evidence.get("events", len(f.event_ids)),
            ]
            for f in analysis.findings
        ]
        lines.append(
            tabulate(
                rows, headers=["severity", "rule", "first seen", "principal", "detail", "events"], disable_numparse=True
            )
        )
    if analysis.chain:
        lines.append("\ncredential chain (contain these too):")
        lines.extend(
            f"  {c.kind:13} {_t(c.identifier)}  ← {_t(c.parent)} ({_t(c.event_name)} {format_time(c.event_time)})"
            + (f"  trusts {_t(', '.join(c.external_accounts))}" if c.external_accounts else "")
            for c in analysis.chain
        )
    if stats.gaps:
        # bounded whatever the archive: a few gaps of each kind, the rest counted
        lines.append(f"\n{folded_count(stats.gaps)} coverage gap(s):")
        lines.extend(f"  {_t(g.path)}: {_t(g.reason)}" for g in fold(stats.gaps))
    # the whole block once more, keeping its line feeds: nothing above may reach the terminal raw
    return terminal("\n".join(lines), newlines=True)


def register(app: typer.Typer) -> None:
    @app.command("analyze")
    def analyze(
        path: Annotated[Path, typer.Argument(help="A CloudTrail file or folder (.json, .json.gz, .jsonl).")],
        principal: Annotated[
            list[str] | None,
            typer.Option("--principal", help="Analyse only this principal's events (repeatable)."),
        ] = None,
        baseline: Annotated[
            Path | None, typer.Option("--baseline", help="Report deviations from this baseline.")
        ] = None,
        as_json: Annotated[bool, typer.Option("--json", help="One JSON object on stdout.")] = False,
    ) -> None:
        """Detect attacker techniques in local CloudTrail logs."""
        if not path.exists():
            raise UsageError(f"no such file or folder: {path}")
        for arn in principal or ():
            if not _PRINCIPAL.match(arn):
                raise UsageError(f"--principal {arn!r} is not an IAM user or role ARN")
        learned = load_baseline(baseline) if baseline is not None else None
        analysis, stats = analyze_paths([path], principals=principal or None, baseline=learned)
        if as_json:
            document = orjson.dumps(contract(analysis, stats)) + b"\n"
            buffer = getattr(sys.stdout, "buffer", None)
            if buffer is None:
                sys.stdout.write(document.decode())
            else:  # bytes straight to the stream: no decoded copy of a possibly large document
                sys.stdout.flush()
                buffer.write(document)
                buffer.flush()
        else:
            typer.echo(render(analysis, stats))
        for error in analysis.errors[:50]:
            typer.secho(f"irkit: warning: {terminal(error, limit=500)}", err=True, fg=typer.colors.YELLOW)
        if len(analysis.errors) > 50:
            typer.secho(f"irkit: warning: … and {len(analysis.errors) - 50} more rule errors", err=True)
        raise typer.Exit(int(ExitCode.GAPS if stats.gaps else ExitCode.OK))
