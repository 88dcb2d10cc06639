"""What the revert reads from the case: the flagged events (from ``findings.json``) with their full
records (from ``evidence/``), and earlier events on the same resources for before-images.

The evidence is streamed once. Only what is needed is kept: the records of flagged events, and per
resource the last few successful events of the names some inverse takes a before-image from (the
archive holds everyone's events in the window, not only the agent's: an administrator's earlier
``PutBucketPolicy`` is a before-image too).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from irkit.cloudtrail.reader import ReadStats, iter_events
from irkit.detect.event import Event, parse_time
from irkit.gaps import Gap
from irkit.revert.keys import event_key
from irkit.revert.model import Change

PER_KEY = 8
MAX_FLAGGED = 5_000


class EarlierIndex:
    """Successful events by resource key, the newest ``per_key`` of each."""

    def __init__(self, names: Iterable[str] = (), *, per_key: int = PER_KEY) -> None:
        self.names = frozenset(names)
        self.per_key = per_key
        self._by_key: dict[str, list[Event]] = {}

    def add(self, event: Event) -> None:
        if not event.succeeded or (self.names and event.event_name not in self.names):
            return
        key = event_key(event)
        if key is None:
            return
        rows = self._by_key.setdefault(key, [])
        rows.append(event)
        if len(rows) > self.per_key * 2:
            rows.sort(key=lambda e: e.event_time)
            del rows[: len(rows) - self.per_key]

    def earlier(self, change: Change, names: frozenset[str]) -> list[Event]:
        """Events of ``names`` on ``change.key`` strictly before the change, newest first."""
        when = parse_time(change.event_time)
        rows = [
            e
            for e in self._by_key.get(change.key, [])
            if e.event_name in names and e.event_time < when and e.event_id != change.event_id
        ]
        return sorted(rows, key=lambda e: e.event_time, reverse=True)


@dataclass
class Flagged:
    event: Event
    attribution: str
    rules: tuple[str, ...]


@dataclass
class CaseEvents:
    flagged: list[Flagged] = field(default_factory=list)
    earlier: EarlierIndex = field(default_factory=EarlierIndex)
    gaps: list[Gap] = field(default_factory=list)
    events: int = 0


def flagged_ids(findings: Any) -> dict[str, tuple[str, list[str]]]:
    """event id → (attribution, rule ids) of every finding in ``findings.json``."""
    out: dict[str, tuple[str, list[str]]] = {}
    rows = findings.get("findings") if isinstance(findings, Mapping) else None
    for f in rows or []:
        if not isinstance(f, Mapping):
            continue
        attribution = str(f.get("attribution") or "")
        for eid in f.get("event_ids") or []:
            entry = out.setdefault(str(eid), (attribution, []))
            if f.get("rule_id") and str(f["rule_id"]) not in entry[1]:
                entry[1].append(str(f["rule_id"]))
    return out


def read_case_events(case_root: Path, before_names: Iterable[str]) -> CaseEvents:
    """The flagged events of the case (one record each, by event id) and the earlier-event index."""
    out = CaseEvents(earlier=EarlierIndex(before_names))
    path = case_root / "findings.json"
    if not path.exists():
        out.gaps.append(Gap(str(path), "no findings.json (detect did not run): nothing is known to revert"))
        return out
    try:
        findings = orjson.loads(path.read_bytes())
    except (orjson.JSONDecodeError, OSError) as exc:
        out.gaps.append(Gap(str(path), f"unreadable findings: {exc}"))
        return out
    wanted = flagged_ids(findings)
    stats = ReadStats()
    seen: set[str] = set()
    for event in iter_events([case_root / "evidence"], stats):
        out.events += 1
        out.earlier.add(event)
        hit = wanted.get(event.event_id)
        if hit is None or event.event_id in seen:
            continue  # the same event can be in a log and its vouched-for replacement: once
        seen.add(event.event_id)
        if len(out.flagged) < MAX_FLAGGED:
            out.flagged.append(Flagged(event, hit[0], tuple(hit[1])))
    out.gaps.extend(stats.gaps)
    missing = len(set(wanted) - seen)
    if missing:
        out.gaps.append(Gap(str(case_root / "evidence"), f"{missing} flagged event(s) not found in the evidence"))
    if len(seen) > MAX_FLAGGED:
        out.gaps.append(Gap(str(path), f"{len(seen) - MAX_FLAGGED} flagged events beyond {MAX_FLAGGED}: not reverted"))
    out.flagged.sort(key=lambda f: f.event.event_time)
    return out
