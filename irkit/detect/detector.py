"""Stateful detectors: what no single event shows (bursts, unusual regions, sequences, baselines).

A detector is fed every analysed event once, keeps only the little state it needs, and produces its
findings in ``finish()``: events can arrive out of time order (archives are read file by file,
region by region), so anything time-based is decided at the end over the compact state it kept.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol

from irkit.detect.event import Event
from irkit.detect.rule import Finding, Severity

DetectorKind = Literal["sequence", "baseline"]
Scenario = tuple[Mapping[str, Any], ...]


@dataclass(frozen=True, slots=True)
class DetectorInfo:
    """A stateful detector's metadata: what ``rules list`` and docs/rules.md show."""

    id: str
    title: str
    severity: Severity
    mitre: tuple[str, ...]
    why: str
    remediation: str
    tactic: str
    kind: DetectorKind = "sequence"
    positive: tuple[Scenario, ...] = ()
    """Record sequences that must produce a finding of this detector (fed to a fresh Analyzer)."""
    negative: tuple[Scenario, ...] = ()
    """Record sequences that must not."""


@dataclass(frozen=True, slots=True)
class DetectorContext:
    filtering: bool
    """True when only a given agent's events are analysed: they are one subject, not many."""
    known_regions: frozenset[str] | None = None
    """Regions the agent's baseline knows, when a baseline was given."""


class Detector(Protocol):
    info: DetectorInfo

    def feed(self, event: Event, attribution: str) -> None: ...

    def finish(self) -> list[Finding]: ...


@dataclass(slots=True)
class Hit:
    """The little a detector keeps of an event."""

    time: datetime
    event_id: str
    attribution: str
    principal: str
    extra: Any = None


@dataclass(slots=True)
class Episode:
    hits: list[Hit] = field(default_factory=list)


def finding(
    info: DetectorInfo,
    hits: Sequence[Hit],
    *,
    detail: str,
    evidence: Mapping[str, Any] | None = None,
    severity: Severity | None = None,
    principal: str | None = None,
) -> Finding:
    ordered = sorted(hits, key=lambda h: (h.time, h.event_id))
    ids: list[str] = []
    seen: set[str] = set()
    for hit in ordered:
        if hit.event_id not in seen:
            seen.add(hit.event_id)
            ids.append(hit.event_id)
    return Finding(
        rule_id=info.id,
        severity=severity or info.severity,
        title=info.title,
        event_ids=tuple(ids),
        principal=principal or ordered[0].principal,
        mitre=info.mitre,
        first_seen=ordered[0].time,
        detail=detail,
        attribution=ordered[0].attribution,
        evidence=dict(evidence or {}),
    )


def windows(hits: Sequence[Hit], *, seconds: float, weight: Any, enough: Any) -> list[list[Hit]]:
    """Groups of time-sorted hits where some sliding window of ``seconds`` satisfies ``enough``.

    ``weight(hit)`` is what a hit adds (instances launched, 1 per denied call); ``enough(hits)``
    decides a window. Overlapping qualifying windows merge into one episode.
    """
    ordered = sorted(hits, key=lambda h: h.time)
    flagged = [False] * len(ordered)
    start = 0
    total = 0
    for end, hit in enumerate(ordered):
        total += weight(hit)
        while (hit.time - ordered[start].time).total_seconds() > seconds:
            total -= weight(ordered[start])
            start += 1
        if enough(total, ordered[start : end + 1]):
            for i in range(start, end + 1):
                flagged[i] = True
    episodes: list[list[Hit]] = []
    for i, hit in enumerate(ordered):
        if not flagged[i]:
            continue
        joined = i > 0 and flagged[i - 1] and (hit.time - ordered[i - 1].time).total_seconds() <= seconds
        if episodes and joined:
            episodes[-1].append(hit)
        else:
            episodes.append([hit])
    return episodes
