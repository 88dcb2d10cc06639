"""PutRolePolicy → put back the policy an earlier event in the window wrote, or delete it (exact when the
role was created in the window; otherwise marked "not an exact undo"). Containment's own
session-revoking policy is never touched."""

from __future__ import annotations

import json

from irkit.revert.inverses._policy import PutPolicy
from irkit.revert.inverses._record import record

_DOC = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}


class PutRolePolicy(PutPolicy):
    event = "PutRolePolicy"
    kind = "role"
    permissions = ("iam:GetRole", "iam:GetRolePolicy", "iam:PutRolePolicy", "iam:DeleteRolePolicy")
    before_events = frozenset({"PutRolePolicy", "DeleteRolePolicy"})
    example = record(
        "iam",
        "PutRolePolicy",
        {"roleName": "agent-infra-optimizer", "policyName": "ops-break-glass", "policyDocument": json.dumps(_DOC)},
    )


INVERSE = PutRolePolicy()
