"""Security group rules added by Authorize*: revoked by the rule ids of the response, else by the
request's permissions; verified by describing the group's rules again (a revoke that matches
nothing returns no error in a default VPC)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from irkit.detect.event import Event
from irkit.revert.calls import pages, read
from irkit.revert.model import (
    Call,
    Change,
    Inverse,
    PlanContext,
    Reversibility,
    Undo,
    Verdict,
    get,
    items,
    make_change,
    present,
    text,
    undone,
)

NOT_FOUND = ("InvalidPermission.NotFound", "InvalidGroup.NotFound", "InvalidSecurityGroupRuleId.NotFound")


def _port(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def permissions_of(request: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The request's permissions in one shape, from the list form (``ipPermissions.items``) or the
    flat form (``cidrIp``, ``fromPort``, … beside an empty ``ipPermissions``)."""
    out = []
    for p in items(request.get("ipPermissions")):
        if not isinstance(p, Mapping):
            continue
        out.append(
            {
                "protocol": str(p.get("ipProtocol", "")),
                "from": _port(p.get("fromPort")),
                "to": _port(p.get("toPort")),
                "cidrs": [
                    str(r.get("cidrIp")) for r in items(p.get("ipRanges")) if isinstance(r, Mapping) and r.get("cidrIp")
                ],
                "cidrs6": [
                    str(r.get("cidrIpv6"))
                    for r in items(p.get("ipv6Ranges"))
                    if isinstance(r, Mapping) and r.get("cidrIpv6")
                ],
                "groups": [
                    str(g.get("groupId")) for g in items(p.get("groups")) if isinstance(g, Mapping) and g.get("groupId")
                ],
                "prefixes": [
                    str(g.get("prefixListId"))
                    for g in items(p.get("prefixListIds"))
                    if isinstance(g, Mapping) and g.get("prefixListId")
                ],
            }
        )
    if not out and (request.get("cidrIp") or request.get("ipProtocol")):
        out.append(
            {
                "protocol": str(request.get("ipProtocol", "-1")),
                "from": _port(request.get("fromPort")),
                "to": _port(request.get("toPort")),
                "cidrs": [str(request["cidrIp"])] if request.get("cidrIp") else [],
                "cidrs6": [],
                "groups": [text(request.get("sourceSecurityGroupName"))]
                if request.get("sourceSecurityGroupName")
                else [],
                "prefixes": [],
            }
        )
    return out


def _boto(p: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"IpProtocol": p["protocol"]}
    if p["from"] is not None:
        out["FromPort"] = p["from"]
    if p["to"] is not None:
        out["ToPort"] = p["to"]
    if p["cidrs"]:
        out["IpRanges"] = [{"CidrIp": c} for c in p["cidrs"]]
    if p["cidrs6"]:
        out["Ipv6Ranges"] = [{"CidrIpv6": c} for c in p["cidrs6"]]
    if p["groups"]:
        out["UserIdGroupPairs"] = [{"GroupId": g} for g in p["groups"]]
    if p["prefixes"]:
        out["PrefixListIds"] = [{"PrefixListId": g} for g in p["prefixes"]]
    return out


def _same(rule: Mapping[str, Any], p: Mapping[str, Any]) -> bool:
    """Does a described rule (DescribeSecurityGroupRules) come from permission ``p``?"""
    if str(rule.get("IpProtocol")) != p["protocol"]:
        return False
    if p["from"] is not None and _port(rule.get("FromPort")) != p["from"]:
        return False
    if p["to"] is not None and _port(rule.get("ToPort")) != p["to"]:
        return False
    source = (
        rule.get("CidrIpv4")
        or rule.get("CidrIpv6")
        or get(rule, "ReferencedGroupInfo", "GroupId")
        or rule.get("PrefixListId")
    )
    return source in (p["cidrs"] + p["cidrs6"] + p["groups"] + p["prefixes"])


class AuthorizeRule(Inverse):
    egress: ClassVar[bool]
    service = "ec2"
    reversibility = Reversibility.EXACT

    def change(self, event: Event) -> Change | None:
        group = text(event.request.get("groupId"))
        name = text(event.request.get("groupName"))
        if not group and not name:
            return None
        ids = [
            str(r["securityGroupRuleId"])
            for r in items(get(event.response, "securityGroupRuleSet"))
            if isinstance(r, Mapping) and r.get("securityGroupRuleId")
        ]
        perms = permissions_of(event.request)
        if not ids and not perms:
            return None
        described = ", ".join(
            f"{p['protocol']}/{p['from']}-{p['to']} from "
            + ", ".join(p["cidrs"] + p["cidrs6"] + p["groups"] + p["prefixes"])
            for p in perms
        )
        match = [[group, c, str(p["from"])] for p in perms for c in p["cidrs"] + p["cidrs6"] + p["groups"]]
        return make_change(
            event,
            resource=f"{group or name} {'egress' if self.egress else 'ingress'} {described}".strip(),
            key=f"ec2:sg:{group or name}",
            params={"group_id": group, "group_name": name, "rule_ids": ids, "permissions": perms},
            match=match,
        )

    def _group(self, change: Change, ctx: PlanContext) -> str | None:
        group = text(change.params.get("group_id"))
        if group:
            return group
        got = read(
            ctx.client,
            "ec2:DescribeSecurityGroups",
            change.region,
            change.resource,
            missing=NOT_FOUND,
            GroupNames=[change.params["group_name"]],
        )
        groups = (got or {}).get("SecurityGroups") or []
        return str(groups[0]["GroupId"]) if groups else None

    def _rules(self, group: str, change: Change, ctx: PlanContext) -> list[Mapping[str, Any]]:
        rules = pages(
            ctx.client,
            "ec2:DescribeSecurityGroupRules",
            change.region,
            change.resource,
            "SecurityGroupRules",
            Filters=[{"Name": "group-id", "Values": [group]}],
        )
        return [r for r in rules if bool(r.get("IsEgress")) == self.egress]

    def _left(self, group: str, change: Change, ctx: PlanContext) -> list[str]:
        """The attacker's rules that still exist: by id when the response named them, else by shape."""
        rules = self._rules(group, change, ctx)
        ids = set(change.params.get("rule_ids") or [])
        if ids:
            return sorted(str(r["SecurityGroupRuleId"]) for r in rules if r.get("SecurityGroupRuleId") in ids)
        perms = change.params.get("permissions") or []
        return sorted(str(r.get("SecurityGroupRuleId")) for r in rules if any(_same(r, p) for p in perms))

    def plan(self, change: Change, ctx: PlanContext) -> Undo:
        group = self._group(change, ctx)
        if group is None:
            return Undo(status="nothing to do", notes=("the security group no longer exists",))
        left = self._left(group, change, ctx)
        if not left:
            return Undo(status="nothing to do", notes=("the rule no longer exists",))
        op = "ec2:RevokeSecurityGroupEgress" if self.egress else "ec2:RevokeSecurityGroupIngress"
        call = Call(
            op, change.region, {"GroupId": group, "SecurityGroupRuleIds": left}, f"revoke {', '.join(left)}", NOT_FOUND
        )
        return Undo((call,), notes=("revoked by rule id; verified by describing the group's rules again",))

    def verify(self, change: Change, ctx: PlanContext) -> Verdict:
        group = self._group(change, ctx)
        if group is None:
            return undone("the security group no longer exists")
        if (
            read(
                ctx.client,
                "ec2:DescribeSecurityGroups",
                change.region,
                change.resource,
                missing=NOT_FOUND,
                GroupIds=[group],
            )
            is None
        ):
            return undone("the security group no longer exists")
        left = self._left(group, change, ctx)
        return present(f"rules still there: {', '.join(left)}") if left else undone("rule gone (re-described)")

    def snapshot(self, change: Change, ctx: PlanContext) -> Mapping[str, Any]:
        group = self._group(change, ctx)
        return {"rules": [dict(r) for r in self._rules(group, change, ctx)]} if group else {}


def example_request(group: str) -> dict[str, Any]:
    return {
        "groupId": group,
        "ipPermissions": {
            "items": [
                {
                    "ipProtocol": "tcp",
                    "fromPort": 4444,
                    "toPort": 4444,
                    "groups": {},
                    "ipRanges": {"items": [{"cidrIp": "0.0.0.0/0"}]},
                    "ipv6Ranges": {},
                    "prefixListIds": {},
                }
            ]
        },
    }


def example_response(group: str, account: str, *, egress: bool) -> dict[str, Any]:
    return {
        "requestId": "7f4e2d1c-0b9a-4c8d-8e7f-6a5b4c3d2e1f",
        "_return": True,
        "securityGroupRuleSet": {
            "items": [
                {
                    "groupOwnerId": account,
                    "groupId": group,
                    "securityGroupRuleId": "sgr-0a1b2c3d4e5f67890",
                    "isEgress": egress,
                    "ipProtocol": "tcp",
                    "fromPort": 4444,
                    "toPort": 4444,
                    "cidrIpv4": "0.0.0.0/0",
                }
            ]
        },
    }
