"""An internet, egress-only or NAT gateway created or attached: a new way in or out of a VPC.

```yaml
id: ec2_internet_gateway_created
events: [CreateInternetGateway, AttachInternetGateway, CreateEgressOnlyInternetGateway, CreateNatGateway]
```
"""

from __future__ import annotations

from irkit.detect.event import Event
from irkit.detect.records import record
from irkit.detect.rule import Rule
from irkit.detect.rules._util import wrapped

_NAMES = ("CreateInternetGateway", "AttachInternetGateway", "CreateEgressOnlyInternetGateway", "CreateNatGateway")


def _match(event: Event) -> bool:
    return event.event_source == "ec2.amazonaws.com" and event.event_name in _NAMES


def _describe(event: Event) -> str:
    where = wrapped(event, "vpcId", "VpcId", "subnetId", "SubnetId") or ""
    gateway = wrapped(event, "internetGatewayId") or ""
    return f"{event.event_name} {gateway} {where}".replace("  ", " ").strip()


RULE = Rule(
    id="ec2_internet_gateway_created",
    title="Internet or NAT gateway created or attached",
    severity="medium",
    mitre=("T1599",),
    why="A VPC without an internet or NAT gateway cannot reach (or be reached from) the internet; adding "
    "one to an isolated VPC opens a path for exfiltration or remote access that no security group change "
    "shows.",
    remediation="Detach and delete the gateway (DetachInternetGateway, DeleteInternetGateway, "
    "DeleteNatGateway) unless the network's owners expect it, and check the routes that use it.",
    match=_match,
    describe=_describe,
    events=_NAMES,
    tactic="exposure",
    positive=(
        record(
            "AttachInternetGateway",
            "ec2.amazonaws.com",
            request={"internetGatewayId": "igw-0a1b2c3d4e5f6", "vpcId": "vpc-0isolated1"},
        ),
        record(
            "CreateNatGateway",
            "ec2.amazonaws.com",
            request={"CreateNatGatewayRequest": {"SubnetId": "subnet-0a1b2c3d", "AllocationId": "eipalloc-0a1b2c3d"}},
        ),
    ),
    negative=(
        record("DescribeInternetGateways", "ec2.amazonaws.com", request={}, read_only=True),
        record(
            "DetachInternetGateway", "ec2.amazonaws.com", request={"internetGatewayId": "igw-0a1b", "vpcId": "vpc-0a1b"}
        ),
    ),
)
