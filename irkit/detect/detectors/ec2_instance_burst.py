"""``ec2_instance_burst``: >= 10 instances launched within 10 minutes by one principal."""

from __future__ import annotations

from irkit.detect.detector import DetectorContext, DetectorInfo, TimeCells, finding, windows
from irkit.detect.detectors._common import run_instances
from irkit.detect.event import Event
from irkit.detect.policy import items
from irkit.detect.rule import Finding

BURST_WINDOW_SECONDS = 600
BURST_INSTANCES = 10


def launched_count(event: Event) -> int:
    """Instances a RunInstances call started (response), else asked for (request minCount)."""
    started = event.response.get("instancesSet")
    if started is not None:  # items(None) is empty: the ABC checks are skipped for an absent set
        started = items(started)
        if started:
            return len(started)
    asked = event.request.get("instancesSet")
    if asked is None:
        return 1
    total = 0
    for item in items(asked):
        try:
            total += int(item.get("minCount") or item.get("maxCount") or 1)
        except (TypeError, ValueError):
            total += 1
    return total or 1


class InstanceBurst:
    info = DetectorInfo(
        id="ec2_instance_burst",
        title="Burst of EC2 instance launches",
        severity="high",
        mitre=("T1496", "T1578.002"),
        why="The seed's miner was 100 instances launched through legitimate API calls; an agent that "
        "launches one or two instances at a time does not start ten in ten minutes.",
        remediation="Terminate the burst's instances after snapshotting one for forensics; check the AMI "
        "and user data; raise a cost alarm on the account.",
        tactic="impact",
        positive=(tuple(run_instances(m, 3) for m in (0, 2, 4, 6)),),
        negative=(tuple(run_instances(m * 30, 2) for m in range(6)),),
    )

    events: frozenset[str] | None = frozenset({"RunInstances"})
    failed_only = False
    alias_free = True
    """Its state (the context and a :class:`TimeCells`) holds no mutable object twice."""

    def __init__(self, context: DetectorContext) -> None:
        self._context = context
        self._cells = TimeCells()

    def feed(self, event: Event, attribution: str) -> None:
        if event.event_name == "RunInstances" and not event.error_code:
            self._cells.add(event.issuer_arn or event.principal_arn, event, attribution, weight=launched_count(event))

    def merge(self, later: InstanceBurst) -> None:
        """Exact: the launches are cells that add (see :meth:`TimeCells.merge`)."""
        self._cells.merge(later._cells)

    def folded(self) -> list[str]:
        """What the bounds folded (the analysis says it)."""
        note = self._cells.note("ec2_instance_burst")
        return [note] if note else []

    def size(self) -> int:
        """Items held: what stays bounded however many events are fed."""
        return self._cells.size()

    def finish(self) -> list[Finding]:
        found = []
        for actor in self._cells.subjects():
            for episode in windows(
                self._cells.hits(actor),
                seconds=BURST_WINDOW_SECONDS,
                weight=lambda h: h.extra.weight,
                minimum=BURST_INSTANCES,
            ):
                count = sum(h.extra.weight for h in episode)
                launches = sum(h.extra.count for h in episode)
                span = (episode[-1].time - episode[0].time).total_seconds() / 60
                found.append(
                    finding(
                        self.info,
                        episode,
                        detail=f"{count} instances in {launches} launches over {span:.0f} min",
                        evidence={"instances": count, "launches": launches, "threshold": BURST_INSTANCES},
                        severity="critical" if count >= 5 * BURST_INSTANCES else None,
                        samples=self._cells.samples(actor, episode),
                    )
                )
        return found


DETECTOR = InstanceBurst
