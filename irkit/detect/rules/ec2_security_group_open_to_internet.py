"""Security group ingress opened to any network (a prefix-length-0 block: ``0.0.0.0/0``, ``::/0``, or
any ``x.x.x.x/0``), on any port; critical when the port is an admin or data-store port (or all ports).

```yaml
id: ec2_security_group_open_to_internet
events: [AuthorizeSecurityGroupIngress, ModifySecurityGroupRules]
severity: high; critical for SSH, RDP, databases, all ports (irkit/detect/rules/_network.py)
```
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from irkit.detect.event import Event
from irkit.detect.policy import as_list, items
from irkit.detect.records import record
from irkit.detect.rule import Rule, Severity
from irkit.detect.rules._network import admin_ports, any_network
from irkit.detect.rules._util import req, sub


def open_permissions(event: Event) -> list[tuple[str, str, list[str]]]:
    """``(cidr, ports, admin ports)`` for every rule of the call open to any network."""
    found: list[tuple[str, str, list[str]]] = []
    top = req(event, "cidrIp")
    if any_network(top):  # the flat form: cidrIp, ipProtocol, fromPort, toPort at the top
        found.append((str(top), _ports(event.request), _admin(event.request)))
    for perm in items(req(event, "ipPermissions")):
        for rng in items(perm.get("ipRanges")):
            if any_network(rng.get("cidrIp")):
                found.append((str(rng["cidrIp"]), _ports(perm), _admin(perm)))
        for rng in items(perm.get("ipv6Ranges")):
            if any_network(rng.get("cidrIpv6")):
                found.append((str(rng["cidrIpv6"]), _ports(perm), _admin(perm)))
    modify = req(event, "ModifySecurityGroupRulesRequest")
    for wrapper in as_list(sub(modify, "SecurityGroupRule")):
        spec = sub(wrapper, "SecurityGroupRule")
        if isinstance(spec, Mapping):
            cidr = spec.get("CidrIpv4") or spec.get("CidrIpv6")
            if any_network(cidr):
                low, high = spec.get("FromPort"), spec.get("ToPort")
                found.append(
                    (
                        str(cidr),
                        f"{spec.get('IpProtocol')}/{low}-{high}",
                        admin_ports(spec.get("IpProtocol"), low, high),
                    )
                )
    return found


def _admin(perm: Mapping[str, Any]) -> list[str]:
    return admin_ports(perm.get("ipProtocol"), perm.get("fromPort"), perm.get("toPort"))


def _ports(perm: Mapping[str, Any]) -> str:
    proto = str(perm.get("ipProtocol", ""))
    if proto == "-1":
        return "all"
    low, high = perm.get("fromPort"), perm.get("toPort")
    return f"{proto}/{low}" if low == high else f"{proto}/{low}-{high}"


def _match(event: Event) -> bool:
    return bool(open_permissions(event))


def _severity(event: Event) -> Severity:
    return "critical" if any(admin for _, _, admin in open_permissions(event)) else "high"


def _describe(event: Event) -> str:
    opened = ", ".join(
        f"{cidr} {ports}" + (f" ({', '.join(admin)})" if admin else "")
        for cidr, ports, admin in open_permissions(event)
    )
    return f"{req(event, 'groupId', 'groupName') or 'security group'} open to {opened}"


def _perm(cidr: str, port: int, *, v6: bool = False, proto: str = "tcp") -> dict[str, Any]:
    ranges = {"items": [{"cidrIpv6": cidr}]} if v6 else {"items": [{"cidrIp": cidr}]}
    return {
        "ipPermissions": {
            "items": [
                {
                    "ipProtocol": proto,
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
    severity_of=_severity,
    mitre=("T1562.007", "T1133"),
    why="Ingress from a prefix-length-0 block (0.0.0.0/0, ::/0, or any x.x.x.x/0: the prefix length, not "
    "the address, makes it the whole internet) exposes whatever listens behind the group to the world: the "
    "seed's 'security group rule on a port you don't usually use' backdoor, whatever the port. SSH, RDP, "
    "databases and all-ports rules are critical.",
    remediation="Revoke the rule (RevokeSecurityGroupIngress, by its security group rule id) or narrow it "
    "to known networks.",
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
        # any /0 is the whole address space, whatever address is written before it
        record(
            "AuthorizeSecurityGroupIngress",
            "ec2.amazonaws.com",
            request={"groupId": "sg-0123456789abcdef0", **_perm("208.236.235.254/0", 3389)},
        ),
        # the flat request form
        record(
            "AuthorizeSecurityGroupIngress",
            "ec2.amazonaws.com",
            request={
                "groupId": "sg-0123456789abcdef0",
                "ipPermissions": {},
                "cidrIp": "0.0.0.0/0",
                "ipProtocol": "tcp",
                "fromPort": 5432,
                "toPort": 5432,
            },
        ),
        record(
            "ModifySecurityGroupRules",
            "ec2.amazonaws.com",
            request={
                "ModifySecurityGroupRulesRequest": {
                    "GroupId": "sg-0123456789abcdef0",
                    "SecurityGroupRule": {
                        "SecurityGroupRuleId": "sgr-0a1b2c3d4e5f60718",
                        "SecurityGroupRule": {
                            "IpProtocol": "-1",
                            "FromPort": -1,
                            "ToPort": -1,
                            "CidrIpv4": "1.2.3.4/0",
                        },
                        "tag": 1,
                    },
                }
            },
        ),
    ),
    negative=(
        record(
            "AuthorizeSecurityGroupIngress",
            "ec2.amazonaws.com",
            request={"groupId": "sg-0123456789abcdef0", **_perm("10.0.0.0/8", 443)},
        ),
        # one address (a /32), however it is written, is not the internet
        record(
            "AuthorizeSecurityGroupIngress",
            "ec2.amazonaws.com",
            request={"groupId": "sg-0123456789abcdef0", **_perm("0.0.0.0/32", 22)},
        ),
        record(
            "AuthorizeSecurityGroupIngress",
            "ec2.amazonaws.com",
            request={"groupId": "sg-0123456789abcdef0", **_perm("not-a-cidr/0", 22)},
        ),
    ),
)
