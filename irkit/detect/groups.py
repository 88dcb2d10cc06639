"""Group before you list: one row per rule x principal x burst, with counts and a sample.

On a real account's hour, 30 of 140 findings were one GetPasswordData burst; on a busy archive one rule
fires once per session. A responder reads the groups; ``analyze --json`` keeps every finding.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from irkit.detect.rule import SEVERITIES, Finding, Severity

BURST_GAP = timedelta(minutes=30)
"""Findings of one rule and principal at most this apart (from the burst's latest) are one burst."""
SAMPLE = 2
"""Details kept per group (the rest are counted)."""
T = TypeVar("T")
_NEVER = datetime.min.replace(tzinfo=UTC)


@dataclass(slots=True)
class FindingGroup:
    rule_id: str
    principal: str
    severity: Severity
    first_seen: datetime
    last_seen: datetime
    findings: int = 0
    events: int = 0
    details: list[str] = field(default_factory=list)


def finding_events(finding: Finding) -> int:
    """The events a finding stands for: its evidence's count (rules and detectors say it), else the
    ids it lists (which are bounded: a count, when given, is exact)."""
    value = finding.evidence.get("events")
    return value if isinstance(value, int) and value >= 0 else len(finding.event_ids)


def bursts(
    items: Iterable[T],
    key: Callable[[T], tuple[str, str]],
    when: Callable[[T], datetime | None],
    gap: timedelta = BURST_GAP,
) -> list[list[T]]:
    """``items`` in runs of one ``key`` (rule, principal) where each is at most ``gap`` after the
    run's latest: sorted by key, then time, each run in time order. An item whose time is unknown
    (None: a forged ``eventTime`` in the report's input) sorts last of its key and is a run of its
    own. The one burst rule of ``analyze``'s text, ``watch``'s lines and the report."""
    runs: list[list[T]] = []
    last: tuple[tuple[str, str], datetime | None] | None = None  # the key and time of the item before
    # each item's key and time asked once; in time order, the item before is the run's latest
    asked = ((key(i), when(i), i) for i in items)
    for k, at, item in sorted(asked, key=lambda p: (p[0], p[1] is None, p[1] or _NEVER)):
        if last is None or last[0] != k or at is None or last[1] is None or at - last[1] > gap:
            runs.append([])
        runs[-1].append(item)
        last = (k, at)
    return runs


def group_findings(findings: Iterable[Finding], gap: timedelta = BURST_GAP) -> list[FindingGroup]:
    """Groups, most severe first, then by first seen (stable for equal inputs)."""
    groups: list[FindingGroup] = []
    for run in bursts(findings, lambda f: (f.rule_id, f.principal), lambda f: f.first_seen, gap):
        first = run[0]
        group = FindingGroup(first.rule_id, first.principal, first.severity, first.first_seen, run[-1].first_seen)
        for f in run:
            group.findings += 1
            group.events += finding_events(f)
            if SEVERITIES.index(f.severity) > SEVERITIES.index(group.severity):
                group.severity = f.severity
            detail = f.detail or f.title
            if len(group.details) < SAMPLE and detail and detail not in group.details:
                group.details.append(detail)
        groups.append(group)
    groups.sort(key=lambda g: (-SEVERITIES.index(g.severity), g.first_seen, g.rule_id, g.principal))
    return groups
