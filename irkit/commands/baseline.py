"""`irkit baseline AGENT`: learn what is normal for an agent and store it for `analyze --baseline`.

```
irkit baseline infra-optimizer --days 14                       # from the log archive in irkit.yaml
irkit baseline infra-optimizer --from ./trail --out base.json  # from local CloudTrail files
```
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer

from irkit.aws.session import Aws
from irkit.cloudtrail.collect import collect_archive
from irkit.cloudtrail.layout import TrailLayout
from irkit.cloudtrail.reader import ReadStats, iter_events
from irkit.config import AgentSettings, Settings, load_config
from irkit.detect.baseline import Baseline, default_baseline_path
from irkit.detect.event import Event, format_time
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


def register(app: typer.Typer) -> None:
    @app.command("baseline")
    def baseline(
        agent_name: Annotated[str, typer.Argument(metavar="AGENT", help="An agent of irkit.yaml.")],
        config: Annotated[Path | None, typer.Option("--config", help="irkit.yaml to use.")] = None,
        days: Annotated[
            int, typer.Option("--days", min=1, max=MAX_HOURS // 24, help="Days of history to learn from.")
        ] = 14,
        source: Annotated[
            Path | None,
            typer.Option("--from", help="Local CloudTrail file or folder instead of the archive."),
        ] = None,
        out: Annotated[Path | None, typer.Option("--out", help="Where to write the baseline JSON.")] = None,
    ) -> None:
        """Learn the agent's normal behaviour (services, APIs, regions, networks, clients, volume)."""
        settings = load_config(config)
        agent = settings.agent(agent_name)
        principals = [p.arn for p in agent.principals]
        end = datetime.now(UTC)
        start = end - timedelta(days=days)
        stats = ReadStats()
        target = out or default_baseline_path(agent_name)
        if source is not None:
            if not source.exists():
                raise UsageError(f"--from {source}: no such file or folder")
            events = _window(iter_events([source], stats), start, end)
            learned = Baseline.learn(events, agent=agent_name, principals=principals)
        else:
            with tempfile.TemporaryDirectory(prefix="irkit-baseline-") as tmp:
                paths, gaps = collect_for_baseline(settings, agent, start=start, end=end, dest=Path(tmp))
                stats.gaps.extend(gaps)
                events = _window(iter_events(paths, stats), start, end)
                learned = Baseline.learn(events, agent=agent_name, principals=principals)
        if learned.events == 0 and (stats.gaps or target.exists()):
            # An unreachable archive or a wrong folder must not replace a learned baseline by an
            # empty one: the next containment would compare against nothing.
            for gap in fold(stats.gaps):
                line = f"irkit: gap: {terminal(gap.path)}: {terminal(gap.reason)}"
                typer.secho(line, err=True, fg=typer.colors.YELLOW)
            kept = f"{target} is left as it was" if target.exists() else "nothing written"
            typer.secho(
                f"irkit: baseline NOT written: no events of {agent_name} were read in the last {days} days; {kept}",
                err=True,
                fg=typer.colors.RED,
            )
            raise typer.Exit(int(ExitCode.GAPS if stats.gaps else ExitCode.OK))
        try:
            learned.save(target)
        except OSError as exc:
            raise UsageError(f"cannot write the baseline to {target}: {exc.strerror} (pick another --out)") from None
        window = f"{format_time(start)} .. {format_time(end)}"
        typer.echo(
            f"baseline for {agent_name}: {learned.events} events of {stats.events} read ({window}); "
            f"{len(learned.apis)} APIs, {len(learned.regions)} regions, {len(learned.networks)} networks, "
            f"{len(learned.user_agents)} clients; hourly mean {learned.hourly.mean:g}, "
            f"p95 {learned.hourly.p95:g}, max {learned.hourly.max} → {target}"
        )
        if learned.events == 0:
            typer.secho(
                f"irkit: warning: no events of {agent_name} in the last {days} days; the baseline is empty",
                err=True,
                fg=typer.colors.YELLOW,
            )
        for gap in fold(stats.gaps):
            typer.secho(f"irkit: gap: {terminal(gap.path)}: {terminal(gap.reason)}", err=True, fg=typer.colors.YELLOW)
        raise typer.Exit(int(ExitCode.GAPS if stats.gaps else ExitCode.OK))
