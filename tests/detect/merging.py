"""Helpers for the merge tests (issue 14, item 2): split a stream of events in two, analyse each
share in its own analyzer (or detector), merge, and compare with one analyzer fed everything."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from itertools import pairwise
from typing import Any

from irkit.detect.analyzer import Analysis, Analyzer
from irkit.detect.event import Event
from irkit.detect.rule import Finding


def finding_key(f: Finding) -> tuple[Any, ...]:
    return (f.first_seen, f.rule_id, f.principal, f.detail, f.event_ids)


def comparable(findings: Sequence[Finding]) -> list[Finding]:
    """Findings in an order that does not depend on dict insertion order."""
    return sorted(findings, key=finding_key)


def fed(make: Callable[[], Any], events: Sequence[Event]) -> Any:
    """A fresh detector (or anything with ``feed(event, attribution)``) fed ``events``."""
    target = make()
    for event in events:
        target.feed(event, "*")
    return target


def split_detector(make: Callable[[], Any], events: Sequence[Event], cut: int) -> tuple[list[Finding], list[Finding]]:
    """(findings of one detector fed all, findings of two fed ``events[:cut]`` / ``events[cut:]`` and merged)."""
    whole = fed(make, events).finish()
    first, second = fed(make, events[:cut]), fed(make, events[cut:])
    first.merge(second)
    return comparable(whole), comparable(first.finish())


def analyse(events: Sequence[Event], **options: Any) -> Analyzer:
    analyzer = Analyzer(**options)
    for event in events:
        analyzer.feed(event)
    return analyzer


def split_analysis(events: Sequence[Event], cuts: Sequence[int], **options: Any) -> tuple[Analysis, Analysis]:
    """(one analyzer fed all, analyzers fed the shares between ``cuts`` merged in order), finished."""
    whole = analyse(events, **options).finish()
    bounds = [0, *cuts, len(events)]
    shares = [analyse(events[a:b], **options) for a, b in pairwise(bounds)]
    merged = shares[0]
    for share in shares[1:]:
        merged.merge(share.share())
    return whole, merged.finish()
