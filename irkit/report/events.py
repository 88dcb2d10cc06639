"""The CloudTrail facts behind the findings, read again from the case's evidence.

``findings.json`` names events by id; the report needs what each one did (``iam:AttachRolePolicy``
on ``role/ops``, from ``203.0.113.7``, with ``aws-cli/2``), when each attributed session was first
and last active, and, for the long tail, how many calls of each API in each region. One pass over
the evidence (the same files detection read), bounded whatever the archive holds: details are kept
for :data:`MAX_DETAILED` flagged events, sessions for :data:`MAX_SESSIONS`, API x region counters for
:data:`MAX_TAIL_KEYS` pairs; beyond each limit the rest is counted, never listed.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from irkit.cloudtrail.reader import ReadStats, iter_events
from irkit.detect.event import Event
from irkit.detect.inventory import resources_of
from irkit.report.times import utc

MAX_DETAILED = 5000
MAX_SESSIONS = 200
MAX_TAIL_KEYS = 2000
MAX_VALUE = 200
MAX_RESOURCES = 10


@dataclass
class Session:
    actor: str
    session: str
    first_at: datetime
    last_at: datetime
    calls: int = 0
    flagged: int = 0
    source_ips: Counter[str] = field(default_factory=Counter)

    @property
    def first(self) -> str:
        return utc(self.first_at)

    @property
    def last(self) -> str:
        return utc(self.last_at)

    def to_json(self) -> dict[str, Any]:
        return {
            "principal": self.actor,
            "session": self.session,
            "first": self.first,
            "last": self.last,
            "calls": self.calls,
            "flagged": self.flagged,
            "source_ips": [ip for ip, _ in self.source_ips.most_common(SESSION_IPS_LISTED)],
            "source_ips_total": len(self.source_ips),
        }


@dataclass
class EventFacts:
    """What the evidence says of the flagged events and of the attributed principals' activity."""

    detailed: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Flagged event id → ``{time, api, region, principal, source_ip, user_agent, resources, error}``."""
    flagged_seen: int = 0
    sessions: dict[tuple[str, str], Session] = field(default_factory=dict)
    sessions_total: int = 0
    tail: Counter[tuple[str, str]] = field(default_factory=Counter)
    """(api, region) → calls by the attributed principals (flagged or not)."""
    tail_other: int = 0
    """Calls not counted in ``tail`` because it holds MAX_TAIL_KEYS pairs already."""
    attributed_calls: int = 0
    source_ips: Counter[str] = field(default_factory=Counter)
    """Source IPs of the flagged events (the attacker's networks)."""
    user_agents: Counter[str] = field(default_factory=Counter)
    first: str | None = None
    last: str | None = None
    """First and last flagged event (UTC), over all of them, listed or not."""


def _cut(value: str) -> str:
    return value if len(value) <= MAX_VALUE else f"{value[:MAX_VALUE]}… ({len(value)} chars)"


SESSION_IPS_LISTED = 5
"""A session's source addresses listed (the busiest)."""
SESSION_IPS_COUNTED = 20
"""A session's distinct source addresses counted (``source_ips_total`` stops there: "20+")."""


DISTINCT_VALUES = 1000
"""Distinct source addresses and user agents of the flagged events counted (the summary's totals
stop there: "N+ more")."""


def _bounded_counter_add(counter: Counter[str], key: str, limit: int = DISTINCT_VALUES) -> None:
    # An attacker can vary the user agent per call: keep the first `limit` distinct values.
    if key in counter or len(counter) < limit:
        counter[key] += 1


def describe(event: Event) -> dict[str, Any]:
    """One flagged event as the timeline shows it."""
    resources = [r for r in resources_of(event) if r != "(account)"] if not event.read_only else []
    return {
        "event_id": _cut(event.event_id),
        "time": utc(event.event_time),
        "api": _cut(event.action),
        "region": _cut(event.region),
        "principal": _cut(event.actor),
        "source_ip": _cut(event.source_ip),
        "user_agent": _cut(event.user_agent),
        "resources": [_cut(r) for r in resources[:MAX_RESOURCES]],
        "resources_total": len(resources),
        "error": _cut(event.error_code or ""),
    }


def session_key(event: Event) -> str:
    """The session of a call: the role session ARN, or the user and its access key."""
    if event.issuer_arn:
        return event.principal_arn or event.issuer_arn
    return f"{event.principal_arn} key {event.access_key_id}" if event.access_key_id else event.principal_arn


def read_facts(evidence: Path, flagged: Iterable[str], attributed: Iterable[str]) -> EventFacts:
    """One pass over the evidence: details of the ``flagged`` event ids, activity of ``attributed``."""
    flagged_ids = set(flagged)
    principals = set(attributed)
    facts = EventFacts()
    if not evidence.exists() or (not flagged_ids and not principals):
        return facts
    stats = ReadStats()
    seen: set[str] = set()
    for event in iter_events([evidence], stats):
        is_flagged = event.event_id in flagged_ids and event.event_id not in seen
        if is_flagged:
            seen.add(event.event_id)
            facts.flagged_seen += 1
            stamp = utc(event.event_time)
            facts.first = stamp if facts.first is None or stamp < facts.first else facts.first
            facts.last = stamp if facts.last is None or stamp > facts.last else facts.last
            _bounded_counter_add(facts.source_ips, _cut(event.source_ip or "unknown"))
            _bounded_counter_add(facts.user_agents, _cut(event.user_agent or "unknown"))
            if len(facts.detailed) < MAX_DETAILED:
                facts.detailed[event.event_id] = describe(event)
        if event.actor in principals:
            facts.attributed_calls += 1
            _session(facts, event, is_flagged)
            pair = (event.action[:MAX_VALUE], event.region[:MAX_VALUE])
            if pair in facts.tail or len(facts.tail) < MAX_TAIL_KEYS:
                facts.tail[pair] += 1
            else:
                facts.tail_other += 1
    return facts


def _session(facts: EventFacts, event: Event, flagged: bool) -> None:
    key = (event.actor, session_key(event))
    when = event.event_time  # compared as datetimes, formatted once (utc() per event is a third of the pass)
    session = facts.sessions.get(key)
    if session is None:
        facts.sessions_total += 1
        if len(facts.sessions) >= MAX_SESSIONS:
            return
        session = facts.sessions[key] = Session(_cut(key[0]), _cut(key[1]), when, when)
    session.first_at = min(session.first_at, when)
    session.last_at = max(session.last_at, when)
    session.calls += 1
    session.flagged += int(flagged)
    _bounded_counter_add(session.source_ips, _cut(event.source_ip or "unknown"), limit=SESSION_IPS_COUNTED)


def counter_rows(counter: Mapping[str, int], limit: int) -> list[dict[str, Any]]:
    """``[{"value", "count"}]`` most common first, at most ``limit``."""
    ranked = sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))
    return [{"value": k, "count": v} for k, v in ranked[:limit]]
