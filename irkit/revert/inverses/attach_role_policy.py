"""AttachRolePolicy → DetachRolePolicy; already detached, or the role gone, is nothing to do."""

from __future__ import annotations

from irkit.revert.inverses._policy import AttachPolicy
from irkit.revert.inverses._record import record


class AttachRolePolicy(AttachPolicy):
    event = "AttachRolePolicy"
    kind = "role"
    permissions = ("iam:GetRole", "iam:ListAttachedRolePolicies", "iam:DetachRolePolicy")
    example = record(
        "iam",
        "AttachRolePolicy",
        {"roleName": "ops-maintenance-automation", "policyArn": "arn:aws:iam::aws:policy/AdministratorAccess"},
    )


INVERSE = AttachRolePolicy()
