"""`irkit watch AGENT`: watch the agent's CloudTrail continuously, page on findings, contain on policy."""

from __future__ import annotations

import os
import sys
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson
import typer

from irkit.commands._common import Config, Hours, Profile, Region, echo, echo_err, with_aws
from irkit.config import WATCH_SEVERITIES, load_config, resolve_config_path
from irkit.errors import ExitCode, UsageError
from irkit.escape import terminal
from irkit.gaps import fold
from irkit.redact import redact, register_secret

DEFAULT_STATE = Path("irkit-watch")
MAX_GROUP_LINES = 20
"""Groups of new findings a pass prints (the rest are counted)."""
MAX_DELIVERED_LINES = 5
"""Delivered pages a pass names one a line; more are one line with their count."""

if TYPE_CHECKING:
    from irkit.watch.run import PassResult


def _sleep(seconds: float) -> None:
    """Between passes (a SIGTERM or Ctrl-C while asleep ends the loop cleanly)."""
    time.sleep(seconds)


def _severity(value: str | None) -> str | None:
    if value is not None and value not in WATCH_SEVERITIES:
        raise typer.BadParameter(f"expected one of {', '.join(WATCH_SEVERITIES)}")
    return value


def _interval(value: float) -> float:
    if not 1 <= value <= 86_400:
        raise typer.BadParameter("must be between 1 and 86400 seconds")
    return value


def watch(
    agent: str = typer.Argument(..., metavar="AGENT", help="the agent's name in irkit.yaml"),
    config: Config = None,
    interval: float = typer.Option(
        60.0, "--interval", metavar="SECONDS", callback=_interval, help="seconds between passes"
    ),
    once: bool = typer.Option(False, "--once", help="run one pass and exit (cron, CI, tests)"),
    hours: Hours = 1.0,
    state: Path | None = typer.Option(
        None, "--state", metavar="DIR", help="state folder (default: ./irkit-watch/AGENT)"
    ),
    page: str | None = typer.Option(
        None, "--page", metavar="URL", help="PagerDuty Events v2 endpoint (or watch.page_url)"
    ),
    contain_at: str | None = typer.Option(
        None, "--contain-at", metavar="SEVERITY", callback=_severity, help="contain on the first finding at or above"
    ),
    out: Path = typer.Option(Path("irkit-cases"), "--out", help="folder for the case a containment opens"),
    as_json: bool = typer.Option(False, "--json", help="JSON lines: one a new finding, one a pass"),
    profile: Profile = None,
    region: Region = None,
) -> None:
    """Watch AGENT: each pass reads the CloudTrail delivered since the last, analyses it with the recent
    window (same rules, sequences and baseline as `irkit contain`), checks that the trails still log,
    pages each new finding once and, with --contain-at, contains the agent once.

    --hours is how far back the first pass reads. Without a page URL the findings are printed.
    The paging routing key is read from the environment variable watch.routing_key_env names
    (default IRKIT_PAGER_KEY), never from a file.

    Example: IRKIT_PAGER_KEY=... irkit watch infra-optimizer --page https://events.pagerduty.com/v2/enqueue

    Exit codes: 0 done (loop: stopped by SIGTERM or Ctrl-C, state saved) · 2 usage or configuration ·
    3 --once with coverage gaps or a page not delivered (kept for the next pass).
    """
    path = resolve_config_path(config)
    from irkit.aws.session import Aws
    from irkit.watch.run import WatchOptions, run_pass, watch_loop

    settings = with_aws(load_config(path), profile=profile, region=region)
    settings.agent(agent)
    if settings.log_archive is None:
        raise UsageError(f"{path}: irkit watch reads the CloudTrail archive: add a log_archive section")
    conf = settings.watch
    url = page or conf.page_url
    if url is not None and not url.startswith(("http://", "https://")):
        raise UsageError(f"--page {url!r}: expected an http:// or https:// URL")
    key = os.environ.get(conf.routing_key_env) if url else None
    if url and not key:
        raise UsageError(
            f"a page URL is set but the environment variable {conf.routing_key_env} (watch.routing_key_env) "
            "holding the routing key is empty or unset"
        )
    register_secret(key)
    opts = WatchOptions(
        agent=agent,
        state_dir=state or DEFAULT_STATE / agent,
        hours=hours,
        page_url=url,
        routing_key=key,
        page_at=conf.page_at,
        contain_at=contain_at or conf.contain_at,
        out=out,
        config_file=path if path.exists() else None,
        max_silence=timedelta(minutes=conf.max_silence_minutes),
    )
    say = echo_err if as_json else echo
    # Watching reads only: the guard below the session refuses every mutating call.
    aws = Aws(settings.aws, dry_run=True)
    aws.identity()  # no credentials: exit 2 before the first pass
    if once:
        result = run_pass(settings, opts, aws=aws, echo=say)
        _show(result, as_json=as_json)
        raise typer.Exit(int(ExitCode.GAPS) if result.gaps or result.pages_pending else 0)
    say(f"watching {agent} every {interval:g} s (state {opts.state_dir}); stop with Ctrl-C or SIGTERM")
    try:
        watch_loop(
            settings, opts, aws=aws, interval=interval, on_pass=lambda r: _show(r, as_json=as_json), echo=say,
            sleep=_sleep,
        )  # fmt: skip
    except KeyboardInterrupt:
        say(f"stopped; state saved in {opts.state_dir}")
        raise typer.Exit(0) from None


def _line(data: dict[str, Any]) -> None:
    sys.stdout.write(orjson.dumps(redact(data)).decode() + "\n")
    sys.stdout.flush()


def _show(result: PassResult, *, as_json: bool) -> None:
    if as_json:
        for row in result.findings + result.delivered:
            _line(row)
        _line(result.to_json())
        return
    _show_findings(result.findings)
    if len(result.delivered) > MAX_DELIVERED_LINES:
        queued = sorted(str(row.get("queued_at")) for row in result.delivered)
        echo(f"✓ {len(result.delivered)} pages delivered (queued {queued[0]} to {queued[-1]})")
    else:
        for row in result.delivered:
            echo(f"✓ page {row['dedup_key']} delivered (queued {row.get('queued_at')})")
    for gap in fold(result.gaps):
        echo(f"gap: {terminal(gap.path)}: {terminal(gap.reason)}")
    if result.contained:
        c = result.contained
        state = "contained" if c.get("contained") else "NOT fully contained (see the case)"
        echo(f"case {c.get('case_id')} at {c.get('case_dir')}: {state}")
    echo(
        f"pass {result.number}: {result.files} files, {result.events} new events, {len(result.findings)} new findings,"
        f" {result.pages_sent} {'page' if result.pages_sent == 1 else 'pages'} sent, {result.pages_pending} pending"
    )


def _show_findings(rows: list[dict[str, Any]]) -> None:
    """Group before you list: one line per rule x principal x burst (the burst rule of ``analyze``'s
    text), with its count, its pages and a sample of details; at most :data:`MAX_GROUP_LINES`
    groups. ``--json`` still gives a row per finding."""
    from irkit.detect.event import parse_time
    from irkit.detect.groups import SAMPLE, bursts
    from irkit.detect.rule import SEVERITIES

    runs = bursts(rows, lambda r: (str(r["rule_id"]), str(r["principal"])), lambda r: parse_time(r["first_seen"]))
    # each group's severity is its most severe finding's; the most severe groups first, then the earliest
    worst = [max((r["severity"] for r in run), key=SEVERITIES.index) for run in runs]
    groups = sorted(zip(worst, runs, strict=True), key=lambda g: (-SEVERITIES.index(g[0]), g[1][0]["first_seen"]))
    for severity, group in groups[:MAX_GROUP_LINES]:
        first = group[0]
        who = f"{terminal(first['title'])} by {terminal(first['principal'], limit=200)}"
        if len(group) == 1:
            when = f"first event {first['first_seen']}"
            pages = f"page: {first['page']}"
        else:
            who += f": {len(group)} findings"
            when = f"first event {first['first_seen']}, last {group[-1]['first_seen']}"
            pages = _page_states(group)
        after = f"detected after {first['latency_seconds']:.0f} s"
        echo(f"! {severity} {first['rule_id']}: {who} ({when}, {after}) → {pages}")
        details = list(dict.fromkeys(str(r["detail"]) for r in group if r.get("detail")))
        for detail in details[:SAMPLE]:
            echo(f"    {terminal(detail, limit=300)}")
        if len(details) > SAMPLE:
            echo(f"    … and {len(details) - SAMPLE} more (irkit watch --json lists each finding)")
    if len(groups) > MAX_GROUP_LINES:
        more = sum(len(group) for _, group in groups[MAX_GROUP_LINES:])
        echo(f"! … and {len(groups) - MAX_GROUP_LINES} more groups ({more} findings): irkit watch --json lists each")


def _page_states(group: list[dict[str, Any]]) -> str:
    """What became of a group's pages. A page carries a burst (its findings share a ``page_key``):
    ``1 page queued for 10 findings``; a finding not paged counts as itself: ``20 below page_at``."""
    findings: Counter[str] = Counter()
    pages: Counter[str] = Counter()
    carried: Counter[str] = Counter()
    seen: set[str] = set()
    for row in group:
        state, key = str(row["page"]), row.get("page_key")
        if key is None:
            findings[state] += 1
            continue
        carried[state] += 1
        if key not in seen:
            seen.add(key)
            pages[state] += 1
    said = [f"{n} {terminal(state, limit=100)}" for state, n in findings.most_common()]
    for state, n in pages.most_common():
        said.append(f"{n} {'page' if n == 1 else 'pages'} {terminal(state, limit=100)} for {carried[state]} findings")
    return ("pages: " if not pages else "") + ", ".join(said)


def register(app: typer.Typer) -> None:
    app.command("watch")(watch)
