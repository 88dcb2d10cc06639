"""CreateRole → strip the role (managed policies detached, inline deleted, taken out of its instance
profiles), then delete it; with ``quarantine_roles`` it is kept, trusting nobody, tagged ``irkit:quarantine``.
The role is snapshotted first (its policies are evidence)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from irkit.detect.event import Event
from irkit.revert.inverses import _iam
from irkit.revert.inverses._record import ACCOUNT, OUTSIDE, record
from irkit.revert.model import (
    IRKIT_POLICIES,
    Call,
    Change,
    Inverse,
    PlanContext,
    Reversibility,
    Undo,
    Verdict,
    get,
    make_change,
    present,
    text,
    undone,
)

_TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{OUTSIDE}:root"}, "Action": "sts:AssumeRole"}
    ],
}


class CreateRole(Inverse):
    event = "CreateRole"
    service = "iam"
    reversibility = Reversibility.EXACT
    permissions = (
        *_iam.ROLE_READS,
        "iam:DetachRolePolicy",
        "iam:DeleteRolePolicy",
        "iam:RemoveRoleFromInstanceProfile",
        "iam:DeleteRole",
        "iam:UpdateAssumeRolePolicy",
        "iam:TagRole",
    )
    covers = True
    cancelled_by = frozenset({"DeleteRole"})
    example = record(
        "iam",
        "CreateRole",
        {"roleName": "ops-maintenance-automation", "path": "/", "assumeRolePolicyDocument": json.dumps(_TRUST)},
        {
            "role": {
                "path": "/",
                "roleName": "ops-maintenance-automation",
                "roleId": "AROAXAMPLEROLEID0001",
                "arn": f"arn:aws:iam::{ACCOUNT}:role/ops-maintenance-automation",
                "createDate": "Nov 25, 2026 8:52:24 PM",
                "assumeRolePolicyDocument": json.dumps(_TRUST),
            }
        },
    )

    def change(self, event: Event) -> Change | None:
        name = text(event.request.get("roleName"))
        if not name:
            return None
        path = text(event.request.get("path")) or "/"
        account = str(event.raw.get("recipientAccountId") or event.account_id)
        arn = text(get(event.response, "role", "arn")) or f"arn:aws:iam::{account}:role{path}{name}"
        return make_change(event, resource=arn, key=f"iam:role:{name}", params={"role": name}, match=[[arn]])

    def plan(self, change: Change, ctx: PlanContext) -> Undo:
        role = str(change.params["role"])
        if not _iam.role_exists(ctx, change, role):
            return Undo(status="nothing to do", notes=("the role no longer exists",))
        calls = _iam.strip_role(ctx, change, role)
        r = _iam.region(change, ctx)
        if ctx.option("quarantine_roles", False):
            calls += [
                Call(
                    "iam:UpdateAssumeRolePolicy",
                    r,
                    {"RoleName": role, "PolicyDocument": json.dumps(_iam.DENY_ALL_TRUST)},
                    "trust nobody",
                    _iam.GONE,
                ),
                Call(
                    "iam:TagRole",
                    r,
                    {"RoleName": role, "Tags": _iam.quarantine_tag(ctx.case_id)},
                    "tag quarantine",
                    _iam.GONE,
                ),
            ]
            return Undo(tuple(calls), notes=("kept in quarantine (quarantine_roles): stripped, trusting nobody",))
        calls.append(Call("iam:DeleteRole", r, {"RoleName": role}, "delete the role", _iam.GONE))
        return Undo(tuple(calls), notes=("the role's configuration is saved in the case before it is deleted",))

    def verify(self, change: Change, ctx: PlanContext) -> Verdict:
        role = str(change.params["role"])
        if not _iam.role_exists(ctx, change, role):
            return undone("role deleted")
        left = [f"policy {a}" for a in _iam.attached_role(ctx, change, role)]
        left += [f"inline policy {n}" for n in _iam.inline_role(ctx, change, role) if n not in IRKIT_POLICIES]
        if not _iam.is_locked(_iam.trust_of(ctx, change, role)):
            left.append("a trust policy that allows someone")
        if left:
            return present("the role still has " + ", ".join(left))
        return undone("role kept, stripped of its policies and trusting nobody")

    def snapshot(self, change: Change, ctx: PlanContext) -> Mapping[str, Any]:
        role = str(change.params["role"])
        if not _iam.role_exists(ctx, change, role):
            return {}
        return {
            "trust_policy": _iam.trust_of(ctx, change, role),
            "attached_policies": _iam.attached_role(ctx, change, role),
            "inline_policies": _iam.inline_role(ctx, change, role),
        }


INVERSE = CreateRole()
