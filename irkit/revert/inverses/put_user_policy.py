"""PutUserPolicy → put back the policy an earlier event in the window wrote, or delete it (exact when the
user was created in the window; otherwise marked "not an exact undo"). Containment's own
session-revoking policy is never touched."""

from __future__ import annotations

import json

from irkit.revert.inverses._policy import PutPolicy
from irkit.revert.inverses._record import record

_DOC = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}


class PutUserPolicy(PutPolicy):
    event = "PutUserPolicy"
    kind = "user"
    permissions = ("iam:GetUser", "iam:GetUserPolicy", "iam:PutUserPolicy", "iam:DeleteUserPolicy")
    before_events = frozenset({"PutUserPolicy", "DeleteUserPolicy"})
    example = record(
        "iam",
        "PutUserPolicy",
        {"userName": "agent-infra-optimizer", "policyName": "ops-break-glass", "policyDocument": json.dumps(_DOC)},
    )


INVERSE = PutUserPolicy()
