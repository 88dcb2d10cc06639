"""``ec2_unusual_region``: launches in a region the agent otherwise (almost) never uses."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from irkit.detect.detector import DetectorContext, DetectorInfo, Hit, Scenarios, add_count_tables, finding
from irkit.detect.detectors._common import at, run_instances
from irkit.detect.event import Event
from irkit.detect.names import base_name
from irkit.detect.records import record
from irkit.detect.rule import Finding

REGION_SHARE = 0.05
REGION_MIN_EVENTS = 20
REGION_MIN_HOURS = 3
REGION_HOURS_SHARE = 0.10
LAUNCH_SAMPLE = 20
DENIED_CALLS = 10
DENIED_DISTINCT_APIS = 4
_HOUR = timedelta(hours=1)
_NEVER = datetime(1970, 1, 1, tzinfo=UTC)
_MAX_NAMES = 10_000
"""Event names remembered as no launch (the names in a trail are a few hundred)."""
LAUNCH_EVENTS = frozenset(
    {
        "RunInstances",
        "RequestSpotInstances",
        "RequestSpotFleet",
        "CreateFleet",
        "CreateDBInstance",
        "CreateDBCluster",
        "CreateDBInstanceReadReplica",
        "CreateFunction",
    }
)


def _describe(minutes: float, region: str = "us-east-1") -> dict[str, Any]:
    return record("DescribeInstances", "ec2.amazonaws.com", time=at(minutes), region=region, request={}, read_only=True)


def _order(hit: Hit) -> tuple[datetime, str]:
    return (hit.time, hit.event_id)


@dataclass(slots=True)
class _Launches:
    """Launches of one subject in one region: the earliest, the count, and a sample of ids."""

    first: Hit
    count: int
    sample: list[Hit]
    """The earliest :data:`LAUNCH_SAMPLE` launches by (time, id), whatever their arrival order
    (sorted once full): what the finding lists, and what merges exactly."""

    def add(self, hit: Hit) -> None:
        self.count += 1
        key = (hit.time, hit.event_id)
        if key < (self.first.time, self.first.event_id):
            self.first = hit
        sample = self.sample
        if len(sample) < LAUNCH_SAMPLE:
            sample.append(hit)
            if len(sample) == LAUNCH_SAMPLE:
                sample.sort(key=_order)
        elif key < (sample[-1].time, sample[-1].event_id):
            sample[-1] = hit
            sample.sort(key=_order)

    def merge(self, later: _Launches) -> None:
        """The launches of a later share: counts add, the earliest stays the earlier on a tie."""
        self.count += later.count
        if _order(later.first) < _order(self.first):
            self.first = later.first
        sample = self.sample + later.sample
        if len(sample) >= LAUNCH_SAMPLE:
            sample.sort(key=_order)
            del sample[LAUNCH_SAMPLE:]
        self.sample = sample


class UnusualRegion:
    info = DetectorInfo(
        id="ec2_unusual_region",
        title="Resources launched in a region the agent does not use",
        severity="high",
        mitre=("T1535", "T1496"),
        why="Attackers launch where nobody looks (the seed: 'creating resources in unfamiliar regions', "
        "a replica 'in a region you don't usually deploy to').",
        remediation="Terminate what was launched there; consider an SCP denying unused regions.",
        tactic="impact",
        positive=Scenarios(
            lambda: (
                (
                    *(_describe(m) for m in range(0, 120, 2)),
                    _describe(130, "ap-southeast-1"),
                    run_instances(131, 2, region="ap-southeast-1"),
                ),
            )
        ),
        negative=Scenarios(
            lambda: (
                tuple(_describe(m) for m in range(0, 120, 2))
                + tuple(_describe(m, "us-west-2") for m in range(0, 120, 30))
                + (run_instances(125, 1), run_instances(126, 1, region="us-west-2")),
            )
        ),
    )

    events: frozenset[str] | None = None
    failed_only = False

    def __init__(self, context: DetectorContext) -> None:
        self._context = context
        self._agent = "(agent)" if context.filtering else ""
        """The one subject of a filtered analysis; empty: each event's actor."""
        # (region, hour) → subject → calls: the per-region counts and active hours are derived in
        # finish(). Bounded by subjects x regions x hours. A trail file is one region and a few
        # minutes, so consecutive events share the (region, hour) group: the last one is kept at
        # hand and an event costs one dict update.
        self._cells: dict[tuple[str, int], dict[str, int]] = {}
        """Hours counted from year 1 (``toordinal() * 24 + hour`` of the UTC time), only ever
        compared with each other. The group at hand is found by comparing the event's time with
        its hour's bounds: cheaper than computing an hour (``timestamp()``) for every event."""
        self._pairs: dict[tuple[str, str], None] = {}
        """(subject, region) in the order first seen: the order one pass over (subject, region,
        hour) cells would count regions in (``most_common`` keeps it for equal counts)."""
        self._last_region = ""
        self._last_start = self._last_end = _NEVER
        self._last_group: dict[str, int] = {}
        self._not_launch: set[str] = set()
        """Event names seen that are no launch (base name not in LAUNCH_EVENTS): most events stop here."""
        self._counts: dict[str, Counter[str]] = defaultdict(Counter)
        self._hours: dict[tuple[str, str], set[int]] = defaultdict(set)
        self._active: dict[str, set[int]] = defaultdict(set)
        self._launches: dict[tuple[str, str], _Launches] = {}

    def feed(self, event: Event, attribution: str) -> None:
        self.feed_file((event,), attribution)

    def feed_file(self, events: Sequence[Event], attribution: str) -> None:
        """:meth:`feed` of each event, in order (the analyzer's pass feeds a file at a time)."""
        agent, pairs, not_launch = self._agent, self._pairs, self._not_launch
        region_at, start, end, group = self._last_region, self._last_start, self._last_end, self._last_group
        for event in events:
            region = event.region
            if not region:
                continue
            when = event.event_time
            if region != region_at or not start <= when < end:
                group = self._group(region, when)
                region_at, start, end = region, self._last_start, self._last_end
            actor = event.issuer_arn or event.principal_arn
            subject = agent or actor
            calls = group.get(subject)
            if calls is None:
                group[subject] = 1
                pairs.setdefault((subject, region))
            else:
                group[subject] = calls + 1
            name = event.event_name
            if name not in not_launch and event.error_code is None:
                if base_name(name) in LAUNCH_EVENTS:
                    self._launch(subject, region, Hit(when, event.event_id, attribution, actor))
                elif len(not_launch) < _MAX_NAMES:
                    not_launch.add(name)

    def _group(self, region: str, when: datetime) -> dict[str, int]:
        """The (region, hour) group of ``when``, which becomes the one at hand."""
        start = when.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
        key = (region, start.toordinal() * 24 + start.hour)
        group = self._cells.get(key)
        if group is None:
            group = self._cells[key] = {}
        self._last_region, self._last_start, self._last_end, self._last_group = region, start, start + _HOUR, group
        return group

    def _launch(self, subject: str, region: str, hit: Hit) -> None:
        key = (subject, region)
        launches = self._launches.get(key)
        if launches is None:
            self._launches[key] = _Launches(hit, 1, [hit])
        else:
            launches.add(hit)

    def merge(self, later: UnusualRegion) -> None:
        """Exact (no bound): calls per (region, hour, subject) add, (subject, region) pairs keep
        their first-seen order; a subject's launches in a region add their counts, keep the
        earliest and the earliest sampled (this share's first on a tie)."""
        add_count_tables(self._cells, later._cells)
        pairs = self._pairs
        for pair in later._pairs:
            pairs.setdefault(pair)
        mine = self._launches
        for pair, theirs_launches in later._launches.items():
            launches = mine.get(pair)
            if launches is None:
                mine[pair] = theirs_launches
            else:
                launches.merge(theirs_launches)
        later._cells, later._pairs, later._launches = {}, {}, {}
        later._last_region, later._last_group = "", {}

    def _fold(self) -> None:
        counts = self._counts
        for subject, region in self._pairs:
            counts[subject][region] = 0  # regions in first-seen order; each gets its calls below
        for (region, hour), group in self._cells.items():
            for subject, calls in group.items():
                counts[subject][region] += calls
                self._hours[(subject, region)].add(hour)
                self._active[subject].add(hour)
        self._cells.clear()
        self._pairs.clear()
        self._last_region, self._last_group = "", {}

    def _usual(self, subject: str, region: str) -> bool:
        """Known to the baseline; or, without one, a real share of the calls or of the active hours.

        An attacker's work in a fresh region is a handful of calls in a few hours; an agent's own
        region carries a share of its calls, or at least shows up hour after hour.
        """
        known = self._context.known_regions
        if known is not None:
            return region in known
        counts = self._counts[subject]
        total = sum(counts.values())
        if total < REGION_MIN_EVENTS or counts[region] >= REGION_SHARE * total:
            return True
        hours = len(self._hours[(subject, region)])
        return hours >= max(REGION_MIN_HOURS, REGION_HOURS_SHARE * len(self._active[subject]))

    def size(self) -> int:
        """Items held: what stays bounded however many events are fed."""
        cells = sum(len(group) for group in self._cells.values())
        return cells + len(self._pairs) + sum(1 + len(x.sample) for x in self._launches.values())

    def finish(self) -> list[Finding]:
        self._fold()
        found = []
        for key, launches in self._launches.items():
            subject, region = key
            if self._usual(subject, region):
                continue
            hits = [launches.first]
            calls = launches.count
            counts = self._counts[subject]
            usual = [r for r, _ in counts.most_common() if r != region and self._usual(subject, r)][:5]
            found.append(
                finding(
                    self.info,
                    hits,
                    detail=f"{calls} launch call(s) in {region}; usual: {', '.join(usual) or '-'}",
                    evidence={
                        "region": region,
                        "events_in_region": counts[region],
                        "events_total": sum(counts.values()),
                        "usual_regions": usual,
                        "baseline_regions": sorted(self._context.known_regions or ()),
                    },
                    samples=[(h.time, h.event_id) for h in launches.sample],
                    events=calls,
                )
            )
        return found


DETECTOR = UnusualRegion
