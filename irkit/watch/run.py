"""One watch pass, and the loop that repeats it.

A pass, holding the state folder's lock:

1. lists and reads the logs delivered since the last pass (:mod:`irkit.watch.source`);
2. analyses them together with the window of recent events kept in the state (deduplicated by
   ``eventID``, sorted by time: out-of-order delivery gives the same findings), with the same rules,
   detectors, baseline and Sigma rules as ``irkit contain``;
3. checks the telemetry (:mod:`irkit.watch.telemetry`);
4. contains on policy (:mod:`irkit.watch.respond`), before paging, so that the page says a case was opened;
5. queues one page per burst of new findings at or above ``page_at`` (rule and principal, each at most
   30 minutes after the one before) and sends the queue (:mod:`irkit.watch.page`);
6. saves the window and the state (atomic writes).

Every AWS call of a pass goes through a dry-run session: the guard refuses any mutating call, so
watching changes nothing in AWS. Only the containment, on policy, runs with a session that may act.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from irkit.aws.session import Aws, Clients
from irkit.cloudtrail.layout import TrailLayout
from irkit.cloudtrail.reader import event_from_record
from irkit.config import Settings
from irkit.detect.analyzer import Analyzer
from irkit.detect.attribution import CHAIN_EVENTS
from irkit.detect.baseline import Baseline, default_baseline_path
from irkit.detect.detectors.iam_role_backdoor_sequence import SEQUENCE_WINDOW
from irkit.detect.event import Event, MalformedRecord, format_time, parse_time
from irkit.detect.groups import BURST_GAP, bursts
from irkit.detect.rule import SEVERITIES, Finding
from irkit.detect.sigma import load_sigma
from irkit.errors import IrkitError, UsageError
from irkit.gaps import Gap, fold
from irkit.watch import page as pages
from irkit.watch.respond import contain_once
from irkit.watch.source import DELIVERY_LAG, advance_cursors, read_new
from irkit.watch.state import WatchState, locked
from irkit.watch.telemetry import check_archive, check_trails

WINDOW = SEQUENCE_WINDOW + DELIVERY_LAG
"""How long events are kept for the next pass: the longest sequence a detector looks for, plus the lag."""
MAX_WINDOW_EVENTS = 100_000
MAX_REFUSED_IN_A_ROW = 3
"""Pages refused one after another (a 4xx each) before the rest of the outbox waits for the next pass."""
MAX_CHAIN_EVENTS = 5_000
"""Credential-creating events kept beyond the window: a key made hours ago still makes its use the agent's."""


def at_least(severity: str, threshold: str) -> bool:
    return SEVERITIES.index(severity) >= SEVERITIES.index(threshold)


@dataclass(frozen=True)
class WatchOptions:
    agent: str
    state_dir: Path
    hours: float = 1.0
    page_url: str | None = None
    routing_key: str | None = None
    page_at: str = "high"
    contain_at: str | None = None
    out: Path = Path("irkit-cases")
    config_file: Path | None = None
    max_silence: timedelta = timedelta(minutes=20)
    attempts: int = pages.ATTEMPTS
    backoff: float = pages.BACKOFF_SECONDS


@dataclass
class PassResult:
    number: int
    at: str
    files: int = 0
    events: int = 0
    window_events: int = 0
    findings: list[dict[str, Any]] = field(default_factory=list)
    """The new findings of this pass (each reported once, whatever later passes see)."""
    delivered: list[dict[str, Any]] = field(default_factory=list)
    """Pages queued in an earlier pass and delivered in this one."""
    pages_sent: int = 0
    pages_pending: int = 0
    contained: dict[str, Any] | None = None
    gaps: list[Gap] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "type": "pass",
            "pass": self.number,
            "at": self.at,
            "files": self.files,
            "events": self.events,
            "window_events": self.window_events,
            "new_findings": len(self.findings),
            "pages_sent": self.pages_sent,
            "pages_pending": self.pages_pending,
            "contained": self.contained,
            "gaps": [g.to_json() for g in fold(self.gaps)],
        }


def _event_id(record: dict[str, Any]) -> str:
    event_id = record.get("eventID")
    if isinstance(event_id, str) and event_id:
        return event_id
    return "sha256:" + hashlib.sha256(orjson.dumps(record, option=orjson.OPT_SORT_KEYS)).hexdigest()


def _baseline(settings: Settings, agent: str, gaps: list[Gap]) -> Baseline | None:
    configured = settings.agent(agent).baseline
    path = configured or default_baseline_path(agent)
    if not path.exists():
        if configured:
            gaps.append(Gap(str(path), "the configured baseline does not exist: no deviation was checked"))
        return None
    try:
        return Baseline.load(path)
    except Exception as exc:  # a damaged baseline is a gap, the rules still run
        gaps.append(Gap(str(path), f"baseline unreadable: {exc}"))
        return None


def _analyse(
    settings: Settings, agent: str, records: list[dict[str, Any]], gaps: list[Gap]
) -> tuple[list[Finding], list[Event]]:
    events: list[Event] = []
    for record in records:
        try:
            events.append(event_from_record(record))
        except MalformedRecord:
            continue  # the reader named it when it was delivered
    events.sort(key=lambda e: (e.event_time, e.event_id))
    sigma = load_sigma(settings.detection.sigma_dirs) if settings.detection.sigma_dirs else None
    if sigma is not None:
        gaps.extend(sigma.gaps)
    analyzer = Analyzer(
        principals=[p.arn for p in settings.agent(agent).principals],
        baseline=_baseline(settings, agent, gaps),
        sigma=sigma,
    )
    for event in events:
        analyzer.feed(event)
    analysis = analyzer.finish()
    gaps.extend(Gap("detect", error) for error in analysis.errors)
    gaps.extend(Gap("detect", note) for note in analysis.folded)
    return analysis.findings, events


def _trim(events: list[Event], now: datetime) -> list[dict[str, Any]]:
    """The events the next pass needs: the window, and the credential-creating events before it."""
    cutoff = now - WINDOW
    recent = [e for e in events if e.event_time >= cutoff][-MAX_WINDOW_EVENTS:]
    chain = [e for e in events if e.event_time < cutoff and e.event_name in CHAIN_EVENTS][-MAX_CHAIN_EVENTS:]
    return [dict(e.raw) for e in chain + recent]


def run_pass(
    settings: Settings,
    opts: WatchOptions,
    *,
    aws: Aws,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    echo: Callable[[str], None] = print,
    sleep: Callable[[float], None] = time.sleep,
) -> PassResult:
    if settings.log_archive is None:
        raise UsageError("irkit watch reads the CloudTrail archive: irkit.yaml has no log_archive section")
    archive = settings.log_archive
    agent = settings.agent(opts.agent)
    with locked(opts.state_dir, f"irkit watch {opts.agent}"):
        state = WatchState.load(opts.state_dir, opts.agent)
        now = clock()
        result = PassResult(state.passes + 1, format_time(now))
        first_start = now - timedelta(hours=opts.hours)
        layout = TrailLayout(archive.bucket, archive.prefix, archive.organization_id)
        clients = Clients(aws, archive.role_arn)
        try:
            s3 = clients.archive("s3")
        except IrkitError as exc:
            s3 = None
            result.gaps.append(Gap(f"s3://{archive.bucket}", f"cannot read the archive: {exc}"))
        accounts = list(archive.accounts) or [agent.account]
        if s3 is not None:
            delivery = read_new(
                s3,
                layout=layout,
                accounts=list(archive.accounts),
                regions=list(archive.regions),
                state=state,
                first_start=first_start,
                now=now,
            )
            result.gaps.extend(delivery.gaps)
            result.files = delivery.files
            accounts = delivery.accounts or accounts
            for account, newest in delivery.newest.items():
                known = state.newest.get(account)
                if known is None or format_time(newest) > known:
                    state.newest[account] = format_time(newest)
            new_events = delivery.events
        else:
            new_events = []
        result.events = len(new_events)

        # The window and the new events, once each (a file read twice, an event in two files).
        records: dict[str, dict[str, Any]] = {}
        for record in state.load_window():
            records.setdefault(_event_id(record), record)
        for event in new_events:
            records.setdefault(_event_id(dict(event.raw)), dict(event.raw))
        findings, events = _analyse(settings, opts.agent, list(records.values()), result.gaps)
        keep = _trim(events, now)
        result.window_events = len(keep)

        candidates: list[tuple[Finding, str]] = [(f, pages.finding_key(opts.agent, f)) for f in findings]
        silence = opts.max_silence
        trails = check_trails(clients.client("cloudtrail"), state=state, now=now, max_silence=silence)
        # Silence is judged for the agent's own account when the archive holds it: other accounts of an
        # organisation trail may be quiet for good reasons, and their silence is not this agent's.
        watched = [agent.account] if agent.account in accounts else accounts
        quiet = check_archive(
            watched if s3 is not None else [],
            bucket=archive.bucket,
            state=state,
            now=now,
            max_silence=silence,
            window_start=format_time(first_start),
        )
        result.gaps.extend(trails.gaps + quiet.gaps)
        state.trails = sorted(set(state.trails) | set(trails.trails))
        for episode, finding in trails.findings + quiet.findings:
            candidates.append((finding, pages.finding_key(opts.agent, finding, episode)))

        new = [(f, key) for f, key in candidates if not state.known(key, f.rule_id, f.principal, f.detail, f.event_ids)]
        # Contain first, on the first finding at or above the policy (new or not: a policy set since).
        if opts.contain_at and state.contained is None:
            trigger = next(
                (
                    f
                    for f, _ in sorted(candidates, key=lambda c: c[0].first_seen)
                    if at_least(f.severity, opts.contain_at)
                ),
                None,
            )
            if trigger is not None:
                state.contained = contain_once(
                    settings,
                    agent=opts.agent,
                    finding=trigger,
                    out=opts.out,
                    config_file=opts.config_file,
                    now=clock,
                    echo=echo,
                )
        result.contained = state.contained
        case: dict[str, Any] | None = (
            {k: state.contained[k] for k in ("case_id", "case_dir", "contained", "report") if k in state.contained}
            if state.contained
            else None
        )

        detected_at = format_time(now)
        rows: dict[str, dict[str, Any]] = {}
        for finding, key in new:
            state.remember(key, finding.rule_id, finding.principal, finding.detail, finding.event_ids, detected_at)
            rows[key] = {
                "type": "finding",
                **finding.to_contract(),
                "first_seen": format_time(finding.first_seen),
                "detail": finding.detail,
                "dedup_key": key,
                "detected_at": detected_at,
                "latency_seconds": round((now - finding.first_seen).total_seconds(), 1),
                "page": "no page URL" if not opts.page_url else "below page_at",
            }
        if opts.page_url:
            paged = [(f, key) for f, key in new if at_least(f.severity, opts.page_at)]
            _queue_pages(state, opts.agent, paged, rows, now=now, case=case)
        # On disk before anything is sent: a crash now re-sends (the dedup key makes it one
        # incident), it never loses a page.
        state.save_window(keep)
        state.save()

        if opts.page_url and opts.routing_key:
            _flush(state, opts, rows, result, clock=clock, echo=echo, sleep=sleep)
        result.pages_pending = len(state.outbox)
        result.findings = list(rows.values())
        state.passes += 1
        advance_cursors(state, now)
        state.save()
        return result


def _queue_pages(
    state: WatchState,
    agent: str,
    paged: list[tuple[Finding, str]],
    rows: dict[str, dict[str, Any]],
    *,
    now: datetime,
    case: dict[str, Any] | None,
) -> None:
    """Queue one page per burst of ``paged`` (rule and principal, each finding at most
    :data:`~irkit.detect.groups.BURST_GAP` after the one before: the burst rule of ``analyze``'s
    text): a responder's phone rings once for thirty calls of one burst, and the page counts them.
    A burst that carries on one paged in an earlier pass is paged under that page's dedup key:
    PagerDuty adds it to the same alert (one incident) while that alert is open. Each finding's
    row names the page that carries it (``page_key``)."""
    detected_at = format_time(now)
    state.forget_bursts(now - WINDOW)
    for run in bursts(paged, lambda p: (p[0].rule_id, p[0].principal), lambda p: p[0].first_seen):
        first, key = run[0]
        last = run[-1][0].first_seen
        earlier = state.burst(first.rule_id, first.principal, first.first_seen, last, BURST_GAP)
        if earlier is not None:
            key = str(earlier["key"])
        latency = round((now - first.first_seen).total_seconds(), 1)
        body = pages.build_page(
            agent, first, key, detected_at=detected_at, latency_seconds=latency, case=case,
            burst=[f for f, _ in run], continues=str(earlier["first"]) if earlier is not None else None,
        )  # fmt: skip
        state.outbox.append(
            {"dedup_key": key, "page": body, "first_seen": format_time(first.first_seen), "queued_at": detected_at,
             "attempts": 0, "findings": [k for _, k in run]}
        )  # fmt: skip
        state.remember_burst(first.rule_id, first.principal, key, first.first_seen, last)
        for _, finding_key in run:
            rows[finding_key]["page"] = "queued"
            rows[finding_key]["page_key"] = key


def _flush(
    state: WatchState,
    opts: WatchOptions,
    rows: dict[str, dict[str, Any]],
    result: PassResult,
    *,
    clock: Callable[[], datetime],
    echo: Callable[[str], None],
    sleep: Callable[[float], None],
) -> None:
    """Send the outbox, in order. Once a page is still refused after its retries for a reason that
    may pass (5xx, 429, no connection), or :data:`MAX_REFUSED_IN_A_ROW` pages in a row are refused
    for any reason (a 4xx: a routing key revoked refuses them all), the rest of the queue is kept
    untried for the next pass: a paging service that is down, or a key it no longer accepts, does
    not cost a pass a request (and its retries) for every page queued."""
    assert opts.page_url is not None and opts.routing_key is not None
    kept: list[dict[str, Any]] = []
    down: str | None = None
    untried = refused = 0
    for item in state.outbox:
        key = str(item["dedup_key"])
        # the rows of this pass the page carries (an outbox kept by an older irkit: its own key)
        mine = [rows[k] for k in item.get("findings") or (key,) if k in rows]
        if down is not None:
            kept.append(item)
            untried += 1
            for row in mine:
                row["page"] = f"pending: not tried this pass ({down})"
            continue
        sent = pages.send(
            opts.page_url, opts.routing_key, item["page"], attempts=opts.attempts, backoff=opts.backoff, sleep=sleep
        )
        if sent.ok:
            refused = 0
            paged_at = clock()
            result.pages_sent += 1
            for row in mine:  # each finding's latency from its own first event
                row.update(_sent(paged_at, str(row["first_seen"])))
            if not mine:
                info = _sent(paged_at, str(item["first_seen"]))
                result.delivered.append({"type": "page", "dedup_key": key, **info, "queued_at": item.get("queued_at")})
            continue
        item["attempts"] = int(item.get("attempts") or 0) + 1
        item["last_error"] = sent.error
        kept.append(item)
        echo(f"! page {key} not delivered ({sent.error}); kept, tried again next pass")
        for row in mine:
            row["page"] = f"pending: {sent.error}"
        refused += 1
        if pages.retryable(sent):
            down = f"the paging service failed: {sent.error}"
        elif refused >= MAX_REFUSED_IN_A_ROW:  # every page refused: a routing key revoked, say
            down = f"{refused} pages in a row refused: {sent.error}"
    if untried:
        echo(f"! {untried} more {'page' if untried == 1 else 'pages'} kept untried ({down}); tried again next pass")
    state.outbox = kept


def _sent(paged_at: datetime, first_seen: str) -> dict[str, Any]:
    latency = round((paged_at - parse_time(first_seen)).total_seconds(), 1)
    return {"page": "sent", "paged_at": format_time(paged_at), "page_latency_seconds": latency}


def watch_loop(
    settings: Settings,
    opts: WatchOptions,
    *,
    aws: Aws,
    interval: float,
    on_pass: Callable[[PassResult], None],
    echo: Callable[[str], None],
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """Passes every ``interval`` seconds until interrupted (SIGTERM, Ctrl-C): the caller catches it.

    A pass that fails on something transient (the archive unreachable) is said and the loop goes on;
    the state on disk is always the last complete pass's (atomic writes)."""
    while True:
        started = time.monotonic()
        try:
            on_pass(run_pass(settings, opts, aws=aws, echo=echo))
        except UsageError:
            raise
        except IrkitError as exc:
            echo(f"✗ pass failed: {exc}; next pass in {interval:g} s")
        wait = max(0.0, interval - (time.monotonic() - started))
        sleep(wait)
