"""``ec2_instance_credentials_outside``: an instance-profile session (ec2RoleDelivery) used from a network
that is not the instance's.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from irkit.detect.baseline import network_of
from irkit.detect.detector import DetectorContext, DetectorInfo, Hit, Scenarios, earlier, finding, named
from irkit.detect.detectors._common import at
from irkit.detect.detectors._networks import MAX_HITS, MAX_NETWORKS, private
from irkit.detect.event import Event
from irkit.detect.records import ACCOUNT, ATTACKER_IP, record, role_identity
from irkit.detect.rule import Finding

_WEB_ROLE = f"arn:aws:iam::{ACCOUNT}:role/web-instance"
_INSTANCE_IP = "54.210.33.7"


def _instance_call(minutes: float, ip: str, *, n: int, vpce: bool = False) -> dict[str, Any]:
    identity = role_identity(_WEB_ROLE, session="i-0a1b2c3d4e5f60718", key="ASIAQWEBINSTANCE0001")
    identity["sessionContext"]["ec2RoleDelivery"] = "2.0"
    rec = record(
        "GetObject" if n % 2 else "DescribeTags",
        "s3.amazonaws.com" if n % 2 else "ec2.amazonaws.com",
        time=at(minutes),
        identity=identity,
        ip=ip,
        read_only=True,
        request={"bucketName": "web-assets", "key": "index.html"} if n % 2 else {},
        event_id=f"00000000-0000-4000-b000-{n:012d}",
    )
    if vpce:
        rec["vpcEndpointId"] = "vpce-0a1b2c3d4e5f60718"
    return rec


def _delivery(event: Event) -> bool:
    ctx = event.raw.get("userIdentity")
    session = ctx.get("sessionContext") if isinstance(ctx, Mapping) else None
    return isinstance(session, Mapping) and bool(session.get("ec2RoleDelivery"))


@dataclass(slots=True)
class _From:
    first: Hit
    hits: list[Hit] = field(default_factory=list)
    count: int = 0
    inside: bool = False
    """Private address or through a VPC endpoint: the instance's own network."""


class InstanceCredentialsOutside:
    info = DetectorInfo(
        id="ec2_instance_credentials_outside",
        title="Instance-role credentials used outside their instance",
        severity="high",
        mitre=("T1552.005", "T1078.004"),
        why="Credentials delivered to an instance (ec2RoleDelivery) are only ever used by that instance: "
        "from its private address through a VPC endpoint, or from its one public address. The same "
        "session from another network means the credentials were taken from the metadata service (SSRF, "
        "a compromised process) and are driven from elsewhere. The instance's network is its private or "
        "endpoint traffic plus the public network it called from first (its address or NAT gateway): a "
        "session seen from one network only, or whose first public call was already the thief's, cannot be "
        "judged.",
        remediation="Revoke the role's sessions (AWSRevokeOlderSessions), enforce IMDSv2 with a hop limit "
        "of 1, find the process or request that read the metadata service, and review the calls made.",
        tactic="credential-access",
        positive=Scenarios(
            lambda: (
                (
                    *(_instance_call(m, _INSTANCE_IP, n=m) for m in range(10)),
                    _instance_call(30, ATTACKER_IP, n=100),
                ),
                (
                    *(_instance_call(m, "10.0.3.17", n=m, vpce=True) for m in range(10)),
                    _instance_call(1.5, _INSTANCE_IP, n=50),
                    _instance_call(30, ATTACKER_IP, n=100),
                ),
            )
        ),
        negative=Scenarios(
            lambda: (
                tuple(_instance_call(m, _INSTANCE_IP, n=m) for m in range(10)),
                (
                    *(_instance_call(m, "10.0.3.17", n=m, vpce=True) for m in range(10)),
                    _instance_call(30, _INSTANCE_IP, n=100),
                ),
            )
        ),
    )

    events: frozenset[str] | None = None
    failed_only = False

    def __init__(self, context: DetectorContext) -> None:
        self._context = context
        self._sessions: dict[tuple[str, str], dict[str, _From]] = {}

    def feed(self, event: Event, attribution: str) -> None:
        self.feed_file((event,), attribution)

    def feed_file(self, events: Sequence[Event], attribution: str) -> None:
        """:meth:`feed` of each event, in order (the analyzer's pass feeds a file at a time)."""
        for event in events:
            # instance-profile sessions are named after their instance: a cheap test before the raw record
            if event.identity_type == "AssumedRole" and "/i-" in event.principal_arn and _delivery(event):
                self._session_call(event, attribution)

    def _session_call(self, event: Event, attribution: str) -> None:
        """A call of an instance-profile session."""
        net = network_of(event.source_ip)
        if net is None:
            return  # an AWS service acting for the instance
        subject = (event.actor, event.principal_arn.rsplit("/", 1)[-1])
        nets = self._sessions.get(subject)
        if nets is None:
            nets = self._sessions[subject] = {}
        hit = Hit(event.event_time, event.event_id, attribution, event.actor, event.source_ip)
        seen = nets.get(net)
        if seen is None:
            if len(nets) >= MAX_NETWORKS:
                return
            seen = nets[net] = _From(hit)
        elif earlier(hit, seen.first):
            seen.first = hit
        seen.count += 1
        if event.raw.get("vpcEndpointId") or private(event.source_ip):
            seen.inside = True
        if len(seen.hits) < MAX_HITS:
            seen.hits.append(hit)

    def merge(self, later: InstanceCredentialsOutside) -> None:
        """Fold in the state of a detector fed the events read after this one's (see Detector.merge):
        per session and network the counts add, the first call is the earlier (this share's on equal
        time and id, as one pass keeps the first-arrived), the hits follow this share's up to MAX_HITS,
        and a network is the instance's own if either share saw it so. A network the later share met
        joins a session while the session has room (MAX_NETWORKS: the bound)."""
        for subject, theirs in later._sessions.items():
            nets = self._sessions.get(subject)
            if nets is None:
                self._sessions[subject] = theirs
                continue
            for net, seen in theirs.items():
                mine = nets.get(net)
                if mine is None:
                    if len(nets) < MAX_NETWORKS:
                        nets[net] = seen
                    continue
                if earlier(seen.first, mine.first):
                    mine.first = seen.first
                mine.count += seen.count
                mine.inside = mine.inside or seen.inside
                mine.hits.extend(seen.hits[: MAX_HITS - len(mine.hits)])

    def size(self) -> int:
        return sum(len(n) + sum(len(f.hits) for f in n.values()) for n in self._sessions.values())

    def finish(self) -> list[Finding]:
        found: list[Finding] = []
        base = self._context.baseline
        for (actor, instance), nets in self._sessions.items():
            if len(nets) < 2:
                continue
            own = {net for net, seen in nets.items() if seen.inside}
            public = [(seen.first.time, seen.first.event_id, net) for net, seen in nets.items() if not seen.inside]
            if public:
                own.add(min(public)[2])  # the first public network: the instance's own (or NAT) address
            if base is not None:
                own |= set(base.networks) & set(nets)
            for net, seen in nets.items():
                if net in own:
                    continue
                ips = sorted({str(h.extra) for h in seen.hits})
                found.append(
                    finding(
                        self.info,
                        seen.hits,
                        detail=f"session {instance} of {actor.rsplit('/', 1)[-1]} used from {named(ips, 5)} "
                        f"({seen.count} calls); the instance calls from {', '.join(sorted(own))}",
                        evidence={
                            "instance": instance,
                            "network": net,
                            "calls": seen.count,
                            "instance_networks": sorted(own),
                        },
                        events=seen.count,
                    )
                )
        return found


DETECTOR = InstanceCredentialsOutside
