"""A VPC route created, replaced or a route table (re)associated.

```yaml
id: ec2_route_table_changed
events: [CreateRoute, ReplaceRoute, AssociateRouteTable, ReplaceRouteTableAssociation]
severity: medium; high for a default route (any /0) sent through an instance or network interface
```
"""

from __future__ import annotations

from irkit.detect.event import Event
from irkit.detect.records import record
from irkit.detect.rule import Rule, Severity
from irkit.detect.rules._network import any_network
from irkit.detect.rules._util import req

_NAMES = ("CreateRoute", "ReplaceRoute", "AssociateRouteTable", "ReplaceRouteTableAssociation")
_TARGETS = (
    "gatewayId",
    "natGatewayId",
    "instanceId",
    "networkInterfaceId",
    "vpcPeeringConnectionId",
    "transitGatewayId",
    "egressOnlyInternetGatewayId",
    "carrierGatewayId",
    "localGatewayId",
    "vpcEndpointId",
    "coreNetworkArn",
)


def _target(event: Event) -> str:
    for key in _TARGETS:
        value = req(event, key)
        if value:
            return f"{key.removesuffix('Id').removesuffix('Arn')} {value}"
    return ""


def _intercepting(event: Event) -> bool:
    """All traffic sent through a box the caller may control (an instance or an interface)."""
    cidr = req(event, "destinationCidrBlock", "destinationIpv6CidrBlock")
    return any_network(cidr) and bool(req(event, "instanceId", "networkInterfaceId"))


def _match(event: Event) -> bool:
    return event.event_source == "ec2.amazonaws.com" and event.event_name in _NAMES


def _severity(event: Event) -> Severity:
    return "high" if _intercepting(event) else "medium"


def _describe(event: Event) -> str:
    if event.event_name in ("CreateRoute", "ReplaceRoute"):
        cidr = req(event, "destinationCidrBlock", "destinationIpv6CidrBlock", "destinationPrefixListId")
        return f"{req(event, 'routeTableId')}: {cidr} → {_target(event)}"
    target = req(event, "subnetId", "gatewayId", "associationId")
    return f"route table {req(event, 'routeTableId')} associated with {target}"


RULE = Rule(
    id="ec2_route_table_changed",
    title="VPC route changed",
    severity="medium",
    severity_of=_severity,
    mitre=("T1599",),
    why="Routes decide where a subnet's traffic goes: a new default route to an internet gateway opens a "
    "private subnet's egress, and one through an instance or interface puts a box in the middle of all of "
    "it (interception, exfiltration past the firewall).",
    remediation="Restore the previous route (ReplaceRoute, or DeleteRoute for a new one) or association "
    "and check the target instance or interface.",
    match=_match,
    describe=_describe,
    events=_NAMES,
    tactic="exposure",
    positive=(
        record(
            "CreateRoute",
            "ec2.amazonaws.com",
            request={
                "routeTableId": "rtb-0a1b2c3d4e5f60718",
                "destinationCidrBlock": "0.0.0.0/0",
                "gatewayId": "igw-0a1b2c3d4e5f6",
            },
        ),
        record(
            "ReplaceRoute",
            "ec2.amazonaws.com",
            request={
                "routeTableId": "rtb-0a1b2c3d4e5f60718",
                "destinationCidrBlock": "0.0.0.0/0",
                "networkInterfaceId": "eni-0a1b2c3d",
            },
        ),
        record(
            "AssociateRouteTable",
            "ec2.amazonaws.com",
            request={"routeTableId": "rtb-0a1b2c3d4e5f60718", "subnetId": "subnet-0a1b2c3d"},
        ),
    ),
    negative=(
        record("DescribeRouteTables", "ec2.amazonaws.com", request={}, read_only=True),
        record("CreateRouteTable", "ec2.amazonaws.com", request={"vpcId": "vpc-0a1b2c3d"}),
    ),
)
