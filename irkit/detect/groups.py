"""Group before you list: one row per rule x principal x burst, with counts and a sample.

On a real account's hour, 30 of 140 findings were one GetPasswordData burst; on a busy archive one rule
fires once per session. A responder reads the groups; ``analyze --json`` keeps every finding.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from irkit.detect.rule import SEVERITIES, Finding, Severity

BURST_GAP = timedelta(minutes=30)
"""Findings of one rule and principal less than this apart are one burst."""
SAMPLE = 2
"""Details kept per group (the rest are counted)."""


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


def _events(finding: Finding) -> int:
    value = finding.evidence.get("events")
    return value if isinstance(value, int) and value >= 0 else len(finding.event_ids)


def group_findings(findings: Iterable[Finding], gap: timedelta = BURST_GAP) -> list[FindingGroup]:
    """Groups, most severe first, then by first seen (stable for equal inputs)."""
    ordered = sorted(findings, key=lambda f: (f.rule_id, f.principal, f.first_seen))
    groups: list[FindingGroup] = []
    for f in ordered:
        last = groups[-1] if groups else None
        if (
            last is None
            or (last.rule_id, last.principal) != (f.rule_id, f.principal)
            or f.first_seen - last.last_seen > gap
        ):
            last = FindingGroup(f.rule_id, f.principal, f.severity, f.first_seen, f.first_seen)
            groups.append(last)
        last.findings += 1
        last.events += _events(f)
        last.last_seen = max(last.last_seen, f.first_seen)
        if SEVERITIES.index(f.severity) > SEVERITIES.index(last.severity):
            last.severity = f.severity
        detail = f.detail or f.title
        if len(last.details) < SAMPLE and detail and detail not in last.details:
            last.details.append(detail)
    groups.sort(key=lambda g: (-SEVERITIES.index(g.severity), g.first_seen, g.rule_id, g.principal))
    return groups
