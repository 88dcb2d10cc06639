"""A network ACL entry allowing inbound traffic from the whole internet.

```yaml
id: ec2_network_acl_open
events: [CreateNetworkAclEntry, ReplaceNetworkAclEntry]
```
"""

from __future__ import annotations

from irkit.detect.event import Event
from irkit.detect.policy import truthy
from irkit.detect.records import record
from irkit.detect.rule import Rule
from irkit.detect.rules._util import req


def _match(event: Event) -> bool:
    if event.event_name not in ("CreateNetworkAclEntry", "ReplaceNetworkAclEntry"):
        return False
    if truthy(req(event, "egress")) or str(req(event, "ruleAction") or "").lower() != "allow":
        return False
    return bool(req(event, "cidrBlock") == "0.0.0.0/0" or req(event, "ipv6CidrBlock") == "::/0")


def _describe(event: Event) -> str:
    ports = req(event, "portRange") or {}
    cidr = req(event, "cidrBlock") or req(event, "ipv6CidrBlock")
    return (
        f"{req(event, 'networkAclId')} rule {req(event, 'ruleNumber')} allows "
        f"{cidr} protocol {req(event, 'aclProtocol')} {ports}"
    )


RULE = Rule(
    id="ec2_network_acl_open",
    title="Network ACL opened to the internet",
    severity="high",
    mitre=("T1562.007",),
    why="An allow-all NACL entry with a low rule number overrides the subnet's network guardrails.",
    remediation="Delete or replace the entry (DeleteNetworkAclEntry) and restore the intended rules.",
    match=_match,
    describe=_describe,
    events=("CreateNetworkAclEntry", "ReplaceNetworkAclEntry"),
    tactic="exposure",
    positive=(
        record(
            "CreateNetworkAclEntry",
            "ec2.amazonaws.com",
            request={
                "networkAclId": "acl-0a1b2c3d4e5f67890",
                "ruleNumber": 1,
                "egress": False,
                "ruleAction": "allow",
                "icmpTypeCode": {},
                "aclProtocol": "-1",
                "portRange": {},
                "cidrBlock": "0.0.0.0/0",
            },
        ),
    ),
    negative=(
        record(
            "CreateNetworkAclEntry",
            "ec2.amazonaws.com",
            request={
                "networkAclId": "acl-0a1b2c3d4e5f67890",
                "ruleNumber": 100,
                "egress": True,
                "ruleAction": "allow",
                "aclProtocol": "-1",
                "cidrBlock": "0.0.0.0/0",
            },
        ),
        record(
            "CreateNetworkAclEntry",
            "ec2.amazonaws.com",
            request={
                "networkAclId": "acl-0a1b2c3d4e5f67890",
                "ruleNumber": 110,
                "egress": False,
                "ruleAction": "allow",
                "aclProtocol": "6",
                "portRange": {"from": 443, "to": 443},
                "cidrBlock": "10.0.0.0/8",
            },
        ),
    ),
)
