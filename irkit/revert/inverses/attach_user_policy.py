"""AttachUserPolicy → DetachUserPolicy; already detached, or the user gone, is nothing to do."""

from __future__ import annotations

from irkit.revert.inverses._policy import AttachPolicy
from irkit.revert.inverses._record import record


class AttachUserPolicy(AttachPolicy):
    event = "AttachUserPolicy"
    kind = "user"
    permissions = ("iam:GetUser", "iam:ListAttachedUserPolicies", "iam:DetachUserPolicy")
    example = record(
        "iam",
        "AttachUserPolicy",
        {"userName": "ops-maintenance-automation", "policyArn": "arn:aws:iam::aws:policy/AdministratorAccess"},
    )


INVERSE = AttachUserPolicy()
