"""A VPC peering connection requested or accepted.

```yaml
id: ec2_vpc_peering_created
events: [CreateVpcPeeringConnection, AcceptVpcPeeringConnection]
severity: medium; high when the peer VPC belongs to another account
```
"""

from __future__ import annotations

from irkit.detect.event import Event
from irkit.detect.records import OUTSIDE_ACCOUNT, record
from irkit.detect.rule import Rule, Severity
from irkit.detect.rules._util import own_account, req

_NAMES = ("CreateVpcPeeringConnection", "AcceptVpcPeeringConnection")


def _outside_peer(event: Event) -> str | None:
    owner = req(event, "peerOwnerId")
    return str(owner) if owner and str(owner) != own_account(event) else None


def _match(event: Event) -> bool:
    return event.event_source == "ec2.amazonaws.com" and event.event_name in _NAMES


def _severity(event: Event) -> Severity:
    return "high" if _outside_peer(event) else "medium"


def _describe(event: Event) -> str:
    if event.event_name == "AcceptVpcPeeringConnection":
        return f"accepted peering {req(event, 'vpcPeeringConnectionId')}"
    outside = _outside_peer(event)
    return f"{req(event, 'vpcId')} peered with {req(event, 'peerVpcId')}" + (
        f" of account {outside}" if outside else ""
    )


RULE = Rule(
    id="ec2_vpc_peering_created",
    title="VPC peering connection created",
    severity="medium",
    severity_of=_severity,
    mitre=("T1599", "T1199"),
    why="Peering joins two networks below every internet-facing control: a peer in another account is a "
    "private path for the attacker's hosts into the VPC (and for data out of it).",
    remediation="Delete the peering connection (DeleteVpcPeeringConnection) and the routes pointing at it.",
    match=_match,
    describe=_describe,
    events=_NAMES,
    tactic="exposure",
    positive=(
        record(
            "CreateVpcPeeringConnection",
            "ec2.amazonaws.com",
            request={"vpcId": "vpc-0a1b2c3d", "peerVpcId": "vpc-0ffee123", "peerOwnerId": OUTSIDE_ACCOUNT},
        ),
        record("AcceptVpcPeeringConnection", "ec2.amazonaws.com", request={"vpcPeeringConnectionId": "pcx-0a1b2c3d"}),
    ),
    negative=(record("DescribeVpcPeeringConnections", "ec2.amazonaws.com", request={}, read_only=True),),
)
