"""`irkit baseline AGENT`: learn what is normal for an agent and store it for `analyze --baseline`.

```
irkit baseline infra-optimizer --days 14                       # from the log archive in irkit.yaml
irkit baseline infra-optimizer --from ./trail --out base.json  # from local CloudTrail files
```
"""

from __future__ import annotations

import tempfile
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import typer

from irkit.aws.session import Aws
from irkit.cloudtrail.collect import collect_archive
from irkit.cloudtrail.layout import TrailLayout
from irkit.cloudtrail.reader import ReadStats, iter_events
from irkit.commands._common import Config, Profile, Region, print_json, with_aws
from irkit.config import AgentSettings, Settings, load_config, resolve_config_path
from irkit.detect.baseline import Baseline, default_baseline_path
from irkit.detect.event import Event, format_time
from irkit.detect.rule import SEVERITIES
from irkit.engine.cases import list_cases
from irkit.engine.run import MAX_HOURS
from irkit.errors import ConfigError, ExitCode, UsageError
from irkit.escape import terminal
from irkit.gaps import Gap, fold


def _window(events: Iterable[Event], start: datetime, end: datetime) -> Iterator[Event]:
    for event in events:
        if start <= event.event_time <= end:
            yield event


def collect_for_baseline(
    settings: Settings, agent: AgentSettings, *, start: datetime, end: datetime, dest: Path
) -> tuple[list[Path], list[Gap]]:
    """Download the window from the log archive (``irkit.cloudtrail.collect.collect_archive``)."""
    archive = settings.log_archive
    if archive is None:
        raise ConfigError(
            "a baseline from the archive needs a log_archive section (or pass --from PATH)",
            key_path="log_archive",
            source=str(settings.source or ""),
        )
    aws = Aws(settings.aws)
    aws.identity()  # no credentials (or refused ones): exit 2 before the archive is read
    if archive.role_arn:
        aws = aws.assume_role(archive.role_arn)
    result = collect_archive(
        aws.client("s3"),
        layout=TrailLayout(archive.bucket, archive.prefix, archive.organization_id),
        accounts=list(archive.accounts) or [agent.account],
        regions=list(archive.regions),
        start=start,
        end=end,
        dest=dest,
    )
    return list(result.paths), list(result.gaps)


EXCLUDE_AT = "medium"
"""Events a rule flags at this severity or above are not learned as normal (the attacker's calls)."""


def flagged_events(paths: list[Path], principals: list[str]) -> tuple[set[str], dict[str, int]]:
    """Event ids the rules and detectors flag at :data:`EXCLUDE_AT` or above, and a count per rule."""
    from irkit.cloudtrail.analyze import analyze_paths  # the analysis pass: only when learning from files

    analysis, _stats = analyze_paths(paths, principals=principals, baseline=None)
    floor = SEVERITIES.index(EXCLUDE_AT)
    ids: set[str] = set()
    rules: dict[str, int] = {}
    for finding in analysis.findings:
        if SEVERITIES.index(finding.severity) >= floor:
            ids.update(finding.event_ids)
            rules[finding.rule_id] = rules.get(finding.rule_id, 0) + len(finding.event_ids)
    return ids, rules


@dataclass
class _Exclusions:
    flagged: set[str]
    windows: list[tuple[str, datetime, datetime]]
    """(case id, start, end) of the agent's cases: their events are incident data, not normal."""
    counts: Counter[str] = field(default_factory=Counter)

    def keep(self, events: Iterable[Event]) -> Iterator[Event]:
        for event in events:
            if event.event_id in self.flagged:
                self.counts["flagged"] += 1
                continue
            case = next((c for c, a, b in self.windows if a <= event.event_time <= b), None)
            if case is not None:
                self.counts[f"case {case}"] += 1
                continue
            yield event


def _case_of(path: Path) -> Path | None:
    """The case folder ``path`` lies in (its own evidence), if any."""
    for folder in [path.resolve(), *path.resolve().parents]:
        if (folder / "case.json").exists() and (folder / "journal.jsonl").exists():
            return folder
    return None


def _incident_windows(
    cases_dir: Path, agent: str, start: datetime, end: datetime
) -> list[tuple[str, datetime, datetime]]:
    """The windows of the agent's cases (dry runs too: the incident happened) that overlap ``start..end``."""
    found, _more = list_cases(cases_dir)
    windows = []
    for case in found:
        if case.agent != agent:
            continue
        try:
            a, b = datetime.fromisoformat(case.window[0]), datetime.fromisoformat(case.window[1])
        except ValueError:
            continue
        if a <= end and b >= start:
            windows.append((case.case_id, a, b))
    return windows


def _hours(a: datetime | None, b: datetime | None) -> float:
    return round((b - a).total_seconds() / 3600, 1) if a and b else 0.0


def register(app: typer.Typer) -> None:
    @app.command("baseline")
    def baseline(
        agent_name: Annotated[str, typer.Argument(metavar="AGENT", help="An agent of irkit.yaml.")],
        config: Config = None,
        days: Annotated[
            int, typer.Option("--days", min=1, max=MAX_HOURS // 24, help="Days of history to learn from.")
        ] = 14,
        source: Annotated[
            Path | None,
            typer.Option("--from", help="Local CloudTrail file or folder instead of the archive."),
        ] = None,
        out: Annotated[Path | None, typer.Option("--out", help="Where to write the baseline JSON.")] = None,
        cases_dir: Annotated[
            Path, typer.Option("--cases", help="Case folders: the agent's incident windows are not learned.")
        ] = Path("irkit-cases"),
        include_incidents: Annotated[
            bool,
            typer.Option(
                "--include-incident-window",
                help="Learn from an incident's window or evidence anyway (the attacker's calls become normal).",
            ),
        ] = False,
        as_json: Annotated[bool, typer.Option("--json", help="One JSON object on stdout.")] = False,
        profile: Profile = None,
        region: Region = None,
    ) -> None:
        """Learn the agent's normal behaviour (services, APIs, regions, networks, clients, volume).

        Events the rules flag at medium or above are left out (and counted), and so are the windows of
        the agent's cases under --cases: an incident is not normal. Learning from a case's own
        evidence is refused unless --include-incident-window.

        Example: irkit baseline infra-optimizer --days 14 --out irkit-baselines/infra-optimizer.json

        Exit codes: 0 written, 2 usage or configuration error, 3 written (or kept) with coverage gaps.
        """
        settings = with_aws(load_config(resolve_config_path(config)), profile=profile, region=region)
        agent = settings.agent(agent_name)
        principals = [p.arn for p in agent.principals]
        end = datetime.now(UTC)
        start = end - timedelta(days=days)
        stats = ReadStats()
        target = out or default_baseline_path(agent_name)
        def say(line: str, **style: Any) -> None:  # what a human reads goes to stderr, the result to stdout
            typer.secho(line, err=True, **style)

        case: Path | None = None
        if source is not None:
            if not source.exists():
                raise UsageError(f"--from {source}: no such file or folder")
            case = _case_of(source)
            if case is not None and not include_incidents:
                raise UsageError(
                    f"--from {source} is the evidence of case {case.name}: learning it would make the incident "
                    "(the attacker's networks, clients and calls) the agent's normal. Learn from history before "
                    "the incident, or pass --include-incident-window to do it anyway"
                )
        windows = [] if include_incidents else _incident_windows(cases_dir, agent_name, start, end)
        with tempfile.TemporaryDirectory(prefix="irkit-baseline-") as tmp:
            if source is not None:
                paths = [source]
            else:
                paths, gaps = collect_for_baseline(settings, agent, start=start, end=end, dest=Path(tmp))
                stats.gaps.extend(gaps)
            flagged, rules = flagged_events(list(paths), principals) if paths else (set(), {})
            exclusions = _Exclusions(flagged, windows)
            events = exclusions.keep(_window(iter_events(paths, stats), start, end))
            learned = Baseline.learn(events, agent=agent_name, principals=principals)
        excluded = dict(exclusions.counts)
        hours = _hours(learned.start, learned.end)
        span = {
            "start": format_time(learned.start) if learned.start else None,
            "end": format_time(learned.end) if learned.end else None,
            "hours": hours,
        }
        summary: dict[str, Any] = {
            "agent": agent_name,
            "out": str(target),
            "events": learned.events,
            "read": stats.events,
            "excluded": excluded,
            "excluded_rules": rules,
            "incident_windows": [{"case": c, "start": a.isoformat(), "end": b.isoformat()} for c, a, b in windows],
            "span": span,
            "requested": {"start": format_time(start), "end": format_time(end), "days": days},
            "written": False,
            "gaps": [g.to_json() for g in fold(stats.gaps)],
        }
        if case is not None:
            say(f"irkit: WARNING: learned from the evidence of case {case.name}: the incident became the agent's "
                "normal", fg=typer.colors.RED, bold=True)  # fmt: skip
        for case_id, a, b in windows:
            say(f"irkit: warning: case {case_id} ({format_time(a)} → {format_time(b)}) overlaps the window: its "
                f"events are not learned ({excluded.get(f'case {case_id}', 0)} left out)",
                fg=typer.colors.YELLOW)  # fmt: skip
        if learned.events == 0 and (stats.gaps or target.exists()):
            # An unreachable archive or a wrong folder must not replace a learned baseline by an
            # empty one: the next containment would compare against nothing.
            for gap in fold(stats.gaps):
                say(f"irkit: gap: {terminal(gap.path)}: {terminal(gap.reason)}", fg=typer.colors.YELLOW)
            kept = f"{target} is left as it was" if target.exists() else "nothing written"
            say(f"irkit: baseline NOT written: no events of {agent_name} were learned in the last {days} days; {kept}",
                fg=typer.colors.RED)  # fmt: skip
            if as_json:
                print_json(summary)
            raise typer.Exit(int(ExitCode.GAPS if stats.gaps else ExitCode.OK))
        try:
            learned.save(target)
        except OSError as exc:
            raise UsageError(f"cannot write the baseline to {target}: {exc.strerror} (pick another --out)") from None
        summary["written"] = True
        learned_from = (
            f"{span['start']} → {span['end']}, {hours:g} hours of data" if learned.start else "no data"
        )
        if as_json:
            print_json(summary)
        else:
            typer.echo(
                f"baseline for {agent_name}: {learned.events} events of {stats.events} read, learned from "
                f"{learned_from}; {len(learned.apis)} APIs, {len(learned.regions)} regions, "
                f"{len(learned.networks)} networks, {len(learned.user_agents)} clients; hourly mean "
                f"{learned.hourly.mean:g}, p95 {learned.hourly.p95:g}, max {learned.hourly.max} → {target}"
            )
        if excluded.get("flagged"):
            named = ", ".join(f"{r} ({n})" for r, n in sorted(rules.items())[:10])
            say(f"irkit: left out {excluded['flagged']} events flagged at {EXCLUDE_AT} or above: {named}",
                fg=typer.colors.YELLOW)  # fmt: skip
        if learned.events and hours < days * 24 / 2:
            say(f"irkit: warning: asked for {days} days, the data covers {hours:g} hours: the baseline knows "
                "only that much of the agent", fg=typer.colors.YELLOW)  # fmt: skip
        if learned.events == 0:
            say(f"irkit: warning: no events of {agent_name} in the last {days} days; the baseline is empty",
                fg=typer.colors.YELLOW)  # fmt: skip
        for gap in fold(stats.gaps):
            say(f"irkit: gap: {terminal(gap.path)}: {terminal(gap.reason)}", fg=typer.colors.YELLOW)
        raise typer.Exit(int(ExitCode.GAPS if stats.gaps else ExitCode.OK))
