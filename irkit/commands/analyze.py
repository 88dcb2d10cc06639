"""`irkit analyze PATH`: run the detection library over local CloudTrail files.

```
irkit analyze evidence/ --principal arn:aws:iam::111111111111:role/agent-infra-optimizer --json
```
Exit 0 when every file was read, 3 when some could not be, a ``--sigma`` rule was refused or a
``--principal`` has no event at all (each is a named coverage gap: a typo in an ARN is not an
all-clear), 1 with ``--fail-on SEVERITY`` when a finding at or above it exists (for scripts and CI),
2 on bad input. ``--json`` adds to the contract (docs/contracts.md) an ``inventory`` (every
successful change by the analysed principals, grouped by service and resource, and every secret read
and model invoked) and, with ``--sigma``, a ``sigma`` summary (rules loaded, refused, skipped).
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import orjson
import typer

from irkit.detect.event import format_time
from irkit.detect.groups import group_findings
from irkit.detect.rule import SEVERITIES
from irkit.errors import ExitCode, UsageError
from irkit.escape import terminal
from irkit.gaps import Gap, fold, folded_count

if TYPE_CHECKING:  # the analyzer (rules, detectors, Sigma, YAML) is loaded when a command analyses
    from irkit.cloudtrail.reader import ReadStats
    from irkit.detect.analyzer import Analysis
    from irkit.detect.baseline import Baseline
    from irkit.detect.sigma import SigmaRuleSet

_PRINCIPAL = re.compile(r"^arn:aws[a-z-]*:(iam|sts)::\d{12}:(user|role|assumed-role)/.+$")
_ARN_PARTS = re.compile(r"^arn:aws[a-z-]*:(?:iam|sts)::(\d{12}):(user|role|assumed-role)/(.+)$")


def _identity(arn: str) -> tuple[str, str, str] | None:
    """(account, user|role, name) of a user, role or role-session ARN; paths and session names dropped."""
    m = _ARN_PARTS.match(arn)
    if m is None:
        return None
    account, kind, rest = m.groups()
    if kind == "assumed-role":
        return account, "role", rest.split("/", 1)[0]
    return account, kind, rest.rsplit("/", 1)[-1]


def silent_principals(asked: Sequence[str], seen: Mapping[str, int]) -> list[str]:
    """The --principal ARNs no analysed event came from (matched on account, kind and name)."""
    present = {i for arn in seen if (i := _identity(arn)) is not None}
    return [arn for arn in asked if _identity(arn) not in present and arn not in seen]


def no_event_gaps(asked: Sequence[str], analysis: Analysis) -> list[Gap]:
    return [
        Gap(
            f"--principal {arn}",
            "the principal has no events in these logs: nothing about it was analysed "
            "(check the ARN, its account, and the time the logs cover)",
        )
        for arn in silent_principals(asked, analysis.principals_seen)
    ]


def fails_on(analysis: Analysis, threshold: str | None) -> list[str]:
    """Rule ids of findings at or above ``threshold`` (empty without one)."""
    if threshold is None:
        return []
    floor = SEVERITIES.index(threshold)  # type: ignore[arg-type,unused-ignore]
    return sorted({f.rule_id for f in analysis.findings if SEVERITIES.index(f.severity) >= floor})


def load_baseline(path: Path) -> Baseline:
    from irkit.detect.baseline import Baseline

    try:
        return Baseline.load(path)
    except FileNotFoundError:
        raise UsageError(f"baseline file not found: {path} (create it with `irkit baseline AGENT`)") from None
    except (OSError, ValueError) as exc:
        raise UsageError(f"cannot use baseline {path}: {exc}") from None


def contract(
    analysis: Analysis, stats: ReadStats, sigma: SigmaRuleSet | None = None, missing: Sequence[Gap] = ()
) -> dict[str, Any]:
    """The ``analyze --json`` object (docs/contracts.md); extra keys are additive. ``findings`` is
    a :class:`Chunks` of serialized slices (:func:`write_document` writes them one after another;
    :func:`document` gives the whole as bytes)."""
    extra: dict[str, Any] = {"sigma": sigma.summary()} if sigma is not None else {}
    return {
        "events": stats.events,
        "files": stats.files,
        "findings": Chunks(analysis.findings_chunks()),
        # Sigma refusals are the responder's own rule files: each is named. Archive gaps are folded.
        "gaps": [g.to_json() for g in (*missing, *(sigma.gaps if sigma is not None else ()), *fold(stats.gaps))],
        "gaps_total": len(missing) + (len(sigma.gaps) if sigma is not None else 0) + folded_count(stats.gaps),
        "attributed": analysis.attributed,
        "chain": [link.to_json() for link in analysis.chain],
        "inventory": analysis.inventory.to_json(),
        # what a detector's bounds folded (additive key): a judgement past a bound is said, not silent
        "folded": list(analysis.folded),
        **extra,
    }


class Chunks:
    """A JSON array given as the serialized arrays of its consecutive slices."""

    def __init__(self, slices: Iterator[bytes]) -> None:
        self.slices = slices


def write_document(doc: dict[str, Any], write: Callable[[bytes], object]) -> None:
    """``doc`` as one JSON object (orjson's bytes for each value, the keys in order), a
    :class:`Chunks` value written slice by slice: the bytes of the whole are never in memory."""
    write(b"{")
    for index, (key, value) in enumerate(doc.items()):
        write((b"," if index else b"") + orjson.dumps(key) + b":")
        if isinstance(value, Chunks):
            write(b"[")
            first = True
            for part in value.slices:
                if part != b"[]":
                    write((b"" if first else b",") + part[1:-1])
                    first = False
            write(b"]")
        else:
            write(orjson.dumps(value))
    write(b"}\n")


def document(doc: dict[str, Any]) -> bytes:
    """:func:`write_document` into bytes."""
    out: list[bytes] = []
    write_document(doc, out.append)
    return b"".join(out)


MAX_GROUP_ROWS = 40
"""Rows of the text report at most; the rest are counted (every finding is in --json)."""


def _who(arn: str) -> str:
    """``111111111111:role/x`` for an ARN: short, yet two accounts' ``role/x`` stay apart."""
    parts = arn.split(":", 5)
    return f"{parts[4]}:{parts[5]}" if len(parts) == 6 and parts[4] else arn


def _t(value: object, limit: int = 300) -> str:
    """A value from the logs, for the screen: escape sequences shown, never sent; one line; cut."""
    return terminal(value, limit=limit)


def render(analysis: Analysis, stats: ReadStats, sigma: SigmaRuleSet | None = None, missing: Sequence[Gap] = ()) -> str:
    """The text report. Every value from the logs goes through :func:`irkit.escape.terminal`: a
    record can carry ESC sequences (window titles, hyperlinks, clear-screen) in any field."""
    lines = [
        f"{stats.events} events in {stats.files} files; {analysis.attributed} analysed; "
        f"{len(analysis.findings)} findings"
    ]
    if sigma is not None:
        lines.append(
            f"sigma: {len(sigma.rules)} rules loaded from {sigma.files} files, {len(sigma.gaps)} refused "
            f"(listed as gaps), {sigma.skipped} for other log sources"
        )
    if analysis.findings:
        from tabulate import tabulate  # (its import reads every installed package's metadata: ~15 ms)

        # Group before you list: one row per rule x principal x burst (--json keeps every finding).
        groups = group_findings(analysis.findings)
        rows = [
            [
                g.severity.upper(),
                _t(g.rule_id),
                format_time(g.first_seen) + ("" if g.last_seen == g.first_seen else f" … {format_time(g.last_seen)}"),
                _t(_who(g.principal)),
                g.findings,
                g.events,
                _t("; ".join(g.details) + (" …" if g.findings > len(g.details) else ""), limit=160),
            ]
            for g in groups[:MAX_GROUP_ROWS]
        ]
        lines.append(
            f"{len(groups)} group(s): one row per rule, principal and burst"
            + (f"; the {MAX_GROUP_ROWS} most severe shown" if len(groups) > MAX_GROUP_ROWS else "")
        )
        lines.append(
            tabulate(
                rows,
                headers=["severity", "rule", "seen", "principal", "findings", "events", "sample"],
                disable_numparse=True,
            )
        )
        if len(groups) > MAX_GROUP_ROWS:
            lines.append(f"… and {len(groups) - MAX_GROUP_ROWS} more group(s): --json lists every finding")
    if analysis.chain:
        lines.append("\ncredential chain (contain these too):")
        lines.extend(
            f"  {c.kind:13} {_t(c.identifier)}  ← {_t(c.parent)} ({_t(c.event_name)} {format_time(c.event_time)})"
            + (f"  trusts {_t(', '.join(c.external_accounts))}" if c.external_accounts else "")
            for c in analysis.chain
        )
    if analysis.folded:
        lines.append("\nbounded state (judged with less detail):")
        lines.extend(f"  {_t(note)}" for note in analysis.folded)
    # Sigma refusals are the responder's own rule files: each is named. Archive gaps are folded:
    # bounded whatever the archive, a few of each kind, the rest counted.
    gaps = [*missing, *(sigma.gaps if sigma is not None else ()), *fold(stats.gaps)]
    if gaps:
        total = len(missing) + (len(sigma.gaps) if sigma is not None else 0) + folded_count(stats.gaps)
        lines.append(f"\n{total} coverage gap(s):")
        lines.extend(f"  {_t(g.path)}: {_t(g.reason)}" for g in gaps)
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
        sigma_dirs: Annotated[
            list[Path] | None,
            typer.Option("--sigma", help="Also run the Sigma CloudTrail rules in this folder (repeatable)."),
        ] = None,
        fail_on: Annotated[
            str | None,
            typer.Option(
                "--fail-on",
                metavar="SEVERITY",
                help="Exit 1 when a finding at or above this severity exists (low, medium, high, critical).",
            ),
        ] = None,
        as_json: Annotated[bool, typer.Option("--json", help="One JSON object on stdout.")] = False,
    ) -> None:
        """Detect attacker techniques in local CloudTrail logs.

        Example: irkit analyze ./evidence --principal arn:aws:iam::111111111111:user/agent-bot --fail-on high

        Exit codes: 0 analysed · 1 a finding at or above --fail-on · 2 usage error · 3 coverage gaps
        (unreadable files, a refused Sigma rule, a --principal with no events).
        """
        from irkit.cloudtrail.worker import prestart

        if fail_on is not None and fail_on.lower() not in SEVERITIES:
            raise UsageError(f"--fail-on {fail_on!r}: expected one of {', '.join(SEVERITIES)}")
        fail_on = fail_on.lower() if fail_on is not None else None
        if not path.exists():
            raise UsageError(f"no such file or folder: {path}")
        for arn in principal or ():
            if not _PRINCIPAL.match(arn):
                raise UsageError(f"--principal {arn!r} is not an IAM user or role ARN")
        for folder in sigma_dirs or ():
            if not folder.exists():
                raise UsageError(f"--sigma {folder}: no such folder")
        # A pass over every principal of a big folder shares its work with a second process: that
        # one is started now, so its imports run beside this one's (the pass kills it if unneeded).
        # Not with --baseline: an agent's baseline analyses the agent's principals (one process).
        started = prestart(path) if not principal and not sigma_dirs and baseline is None else None
        try:
            from irkit.cloudtrail.analyze import analyze_paths
            from irkit.detect.sigma import load_sigma

            learned = load_baseline(baseline) if baseline is not None else None
            sigma = load_sigma(sigma_dirs) if sigma_dirs else None
        except BaseException:
            if started is not None:
                started.abandon()
            raise
        analysis, stats = analyze_paths(
            [path], principals=principal or None, baseline=learned, sigma=sigma, started=started
        )
        missing = no_event_gaps(principal or [], analysis)
        if as_json:
            doc = contract(analysis, stats, sigma, missing)
            buffer = getattr(sys.stdout, "buffer", None)
            if buffer is None:
                write_document(doc, lambda part: sys.stdout.write(part.decode()))
            else:  # bytes straight to the stream, a slice of findings at a time: no copy of the whole
                sys.stdout.flush()
                write_document(doc, buffer.write)
                buffer.flush()
        else:
            typer.echo(render(analysis, stats, sigma, missing))
        for error in analysis.errors[:50]:
            typer.secho(f"irkit: warning: {terminal(error, limit=500)}", err=True, fg=typer.colors.YELLOW)
        if len(analysis.errors) > 50:
            typer.secho(f"irkit: warning: … and {len(analysis.errors) - 50} more rule errors", err=True)
        refused = sigma is not None and bool(sigma.gaps)
        over = fails_on(analysis, fail_on)
        if over:
            typer.secho(
                terminal(f"irkit: findings at or above {fail_on}: {', '.join(over)} (--fail-on: exit 1)", limit=2000),
                err=True,
                fg=typer.colors.RED,
            )
            raise typer.Exit(int(ExitCode.STEP_FAILED))
        raise typer.Exit(int(ExitCode.GAPS if stats.gaps or refused or missing else ExitCode.OK))
