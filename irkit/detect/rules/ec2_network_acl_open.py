"""A network ACL entry allowing inbound traffic from any network (a prefix-length-0 block).

```yaml
id: ec2_network_acl_open
events: [CreateNetworkAclEntry, ReplaceNetworkAclEntry]
severity: high; critical for SSH, RDP, databases, all ports
```
"""

from __future__ import annotations

from irkit.detect.event import Event
from irkit.detect.policy import truthy
from irkit.detect.records import record
from irkit.detect.rule import Rule, Severity
from irkit.detect.rules._network import admin_ports, any_network
from irkit.detect.rules._util import req, sub


def _open(event: Event) -> str | None:
    if event.event_name not in ("CreateNetworkAclEntry", "ReplaceNetworkAclEntry"):
        return None
    if truthy(req(event, "egress")) or str(req(event, "ruleAction") or "").lower() != "allow":
        return None
    for key in ("cidrBlock", "ipv6CidrBlock"):
        cidr = req(event, key)
        if any_network(cidr):
            return str(cidr)
    return None


def _admin(event: Event) -> list[str]:
    ports = req(event, "portRange")
    return admin_ports(req(event, "aclProtocol"), sub(ports, "from"), sub(ports, "to"))


def _match(event: Event) -> bool:
    return _open(event) is not None


def _severity(event: Event) -> Severity:
    return "critical" if _admin(event) else "high"


def _describe(event: Event) -> str:
    ports = req(event, "portRange") or {}
    admin = _admin(event)
    return (
        f"{req(event, 'networkAclId')} rule {req(event, 'ruleNumber')} allows "
        f"{_open(event)} protocol {req(event, 'aclProtocol')} {ports}" + (f" ({', '.join(admin)})" if admin else "")
    )


def _entry(cidr: str, *, egress: bool = False, action: str = "allow", proto: str = "-1", ports: object = None) -> dict:  # type: ignore[type-arg]
    request = {
        "networkAclId": "acl-0a1b2c3d4e5f67890",
        "ruleNumber": 1,
        "egress": egress,
        "ruleAction": action,
        "icmpTypeCode": {},
        "aclProtocol": proto,
        "portRange": ports if ports is not None else {},
        "cidrBlock": cidr,
    }
    return record("CreateNetworkAclEntry", "ec2.amazonaws.com", request=request)


RULE = Rule(
    id="ec2_network_acl_open",
    title="Network ACL opened to the internet",
    severity="high",
    severity_of=_severity,
    mitre=("T1562.007",),
    why="An allow entry from a prefix-length-0 block (any x.x.x.x/0, not only 0.0.0.0/0) with a low rule "
    "number overrides the subnet's network guardrails; admin ports or every port are critical.",
    remediation="Delete or replace the entry (DeleteNetworkAclEntry) and restore the intended rules.",
    match=_match,
    describe=_describe,
    events=("CreateNetworkAclEntry", "ReplaceNetworkAclEntry"),
    tactic="exposure",
    positive=(
        _entry("0.0.0.0/0"),
        _entry("203.0.113.9/0", proto="6", ports={"from": 443, "to": 443}),
        record(
            "ReplaceNetworkAclEntry",
            "ec2.amazonaws.com",
            request={
                "networkAclId": "acl-0a1b2c3d4e5f67890",
                "ruleNumber": 90,
                "egress": False,
                "ruleAction": "allow",
                "aclProtocol": "6",
                "portRange": {"from": 22, "to": 22},
                "ipv6CidrBlock": "::/0",
            },
        ),
    ),
    negative=(
        _entry("0.0.0.0/0", egress=True),
        _entry("0.0.0.0/0", action="deny"),
        _entry("10.0.0.0/8", proto="6", ports={"from": 443, "to": 443}),
    ),
)
