"""``ec2_unusual_region``: launches in a region the agent otherwise (almost) never uses."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Any

from irkit.detect.detector import DetectorContext, DetectorInfo, Hit, finding
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


@dataclass(slots=True)
class _Launches:
    """Launches of one subject in one region: the earliest, the count, and a sample of ids."""

    first: Hit
    count: int
    sample: list[Hit]

    def add(self, hit: Hit) -> None:
        self.count += 1
        if (hit.time, hit.event_id) < (self.first.time, self.first.event_id):
            self.first = hit
        if len(self.sample) < LAUNCH_SAMPLE:
            self.sample.append(hit)
            if len(self.sample) == LAUNCH_SAMPLE:
                self.sample.sort(key=lambda h: (h.time, h.event_id))
        elif hit.time < self.sample[-1].time:
            # keep the earliest launches: the sample is what the finding lists, earliest first
            self.sample[-1] = hit
            self.sample.sort(key=lambda h: (h.time, h.event_id))


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
        positive=(
            (
                *(_describe(m) for m in range(0, 120, 2)),
                _describe(130, "ap-southeast-1"),
                run_instances(131, 2, region="ap-southeast-1"),
            ),
        ),
        negative=(
            tuple(_describe(m) for m in range(0, 120, 2))
            + tuple(_describe(m, "us-west-2") for m in range(0, 120, 30))
            + (run_instances(125, 1), run_instances(126, 1, region="us-west-2")),
        ),
    )

    events: frozenset[str] | None = None
    failed_only = False

    def __init__(self, context: DetectorContext) -> None:
        self._context = context
        # (subject, region, hour) → calls: one dict update an event; the per-region counts and
        # active hours are derived in finish(). Bounded by subjects x regions x hours.
        self._filtering = context.filtering
        self._cells: dict[tuple[str, str, int], int] = {}
        self._counts: dict[str, Counter[str]] = defaultdict(Counter)
        self._hours: dict[tuple[str, str], set[int]] = defaultdict(set)
        self._active: dict[str, set[int]] = defaultdict(set)
        self._launches: dict[tuple[str, str], _Launches] = {}

    def feed(self, event: Event, attribution: str) -> None:
        region = event.region
        if not region:
            return
        subject = "(agent)" if self._filtering else (event.issuer_arn or event.principal_arn)
        cell = (subject, region, int(event.event_time.timestamp()) // 3600)
        cells = self._cells
        cells[cell] = cells.get(cell, 0) + 1
        if event.error_code is None and base_name(event.event_name) in LAUNCH_EVENTS:
            key = (subject, region)
            hit = Hit(event.event_time, event.event_id, attribution, event.issuer_arn or event.principal_arn)
            launches = self._launches.get(key)
            if launches is None:
                self._launches[key] = _Launches(hit, 1, [hit])
            else:
                launches.add(hit)

    def _fold(self) -> None:
        for (subject, region, hour), calls in self._cells.items():
            self._counts[subject][region] += calls
            self._hours[(subject, region)].add(hour)
            self._active[subject].add(hour)
        self._cells.clear()

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
        return len(self._cells) + sum(1 + len(x.sample) for x in self._launches.values())

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
                )
            )
        return found


DETECTOR = UnusualRegion
