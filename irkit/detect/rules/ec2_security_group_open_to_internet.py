"""Security group ingress opened to the whole internet (``0.0.0.0/0`` or ``::/0``), on any port.

```yaml
id: ec2_security_group_open_to_internet
events: [AuthorizeSecurityGroupIngress, ModifySecurityGroupRules]
```
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from irkit.detect.event import Event
from irkit.detect.policy import as_list, items
from irkit.detect.records import record
from irkit.detect.rule import Rule
from irkit.detect.rules._util import req, sub

OPEN = frozenset({"0.0.0.0/0", "::/0"})


def open_permissions(event: Event) -> list[tuple[str, str]]:
    """``(cidr, ports)`` for every rule of the call open to the internet."""
    found: list[tuple[str, str]] = []
    top = req(event, "cidrIp")
    if top in OPEN:
        found.append((str(top), _ports(event.request)))
    for perm in items(req(event, "ipPermissions")):
        for rng in items(perm.get("ipRanges")):
            if rng.get("cidrIp") in OPEN:
                found.append((str(rng["cidrIp"]), _ports(perm)))
        for rng in items(perm.get("ipv6Ranges")):
            if rng.get("cidrIpv6") in OPEN:
                found.append((str(rng["cidrIpv6"]), _ports(perm)))
    modify = req(event, "ModifySecurityGroupRulesRequest")
    for wrapper in as_list(sub(modify, "SecurityGroupRule")):
        spec = sub(wrapper, "SecurityGroupRule")
        if isinstance(spec, Mapping):
            cidr = spec.get("CidrIpv4") or spec.get("CidrIpv6")
            if cidr in OPEN:
                found.append((str(cidr), f"{spec.get('FromPort')}-{spec.get('ToPort')}"))
    return found


def _ports(perm: Mapping[str, Any]) -> str:
    proto = str(perm.get("ipProtocol", ""))
    if proto == "-1":
        return "all"
    low, high = perm.get("fromPort"), perm.get("toPort")
    return f"{proto}/{low}" if low == high else f"{proto}/{low}-{high}"


def _match(event: Event) -> bool:
    return bool(open_permissions(event))


def _describe(event: Event) -> str:
    opened = ", ".join(f"{cidr} {ports}" for cidr, ports in open_permissions(event))
    return f"{req(event, 'groupId', 'groupName') or 'security group'} open to {opened}"


def _perm(cidr: str, port: int, *, v6: bool = False) -> dict[str, Any]:
    ranges = {"items": [{"cidrIpv6": cidr}]} if v6 else {"items": [{"cidrIp": cidr}]}
    return {
        "ipPermissions": {
            "items": [
                {
                    "ipProtocol": "tcp",
                    "fromPort": port,
                    "toPort": port,
                    "groups": {},
                    "ipRanges": {} if v6 else ranges,
                    "ipv6Ranges": ranges if v6 else {},
                    "prefixListIds": {},
                }
            ]
        }
    }


RULE = Rule(
    id="ec2_security_group_open_to_internet",
    title="Security group opened to the internet",
    severity="high",
    mitre=("T1562.007", "T1133"),
    why="Ingress from 0.0.0.0/0 or ::/0 exposes whatever listens behind the group to the world: the "
    "seed's 'security group rule on a port you don't usually use' backdoor, whatever the port.",
    remediation="Revoke the rule (RevokeSecurityGroupIngress) or narrow it to known networks.",
    match=_match,
    describe=_describe,
    events=("AuthorizeSecurityGroupIngress", "ModifySecurityGroupRules"),
    tactic="exposure",
    positive=(
        record(
            "AuthorizeSecurityGroupIngress",
            "ec2.amazonaws.com",
            request={"groupId": "sg-0123456789abcdef0", **_perm("0.0.0.0/0", 8443)},
            response={"requestId": "4d0c7f1a-0000-4000-8000-000000000001", "_return": True},
        ),
        record(
            "AuthorizeSecurityGroupIngress",
            "ec2.amazonaws.com",
            request={"groupId": "sg-0123456789abcdef0", **_perm("::/0", 22, v6=True)},
        ),
    ),
    negative=(
        record(
            "AuthorizeSecurityGroupIngress",
            "ec2.amazonaws.com",
            request={"groupId": "sg-0123456789abcdef0", **_perm("10.0.0.0/8", 443)},
        ),
    ),
)
