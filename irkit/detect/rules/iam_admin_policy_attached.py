"""Administrator power granted: an admin managed policy attached, or an inline ``*:*`` policy put.

```yaml
id: iam_admin_policy_attached
events: [AttachUserPolicy, AttachRolePolicy, AttachGroupPolicy, PutUserPolicy, PutRolePolicy, PutGroupPolicy]
```
"""

from __future__ import annotations

from urllib.parse import quote

from irkit.detect.event import Event
from irkit.detect.policy import grants_admin, is_admin_managed_policy, load_document
from irkit.detect.records import record
from irkit.detect.rule import Rule
from irkit.detect.rules._util import req

_ATTACH = ("AttachUserPolicy", "AttachRolePolicy", "AttachGroupPolicy")
_PUT = ("PutUserPolicy", "PutRolePolicy", "PutGroupPolicy")
_ADMIN_DOC = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}'
_S3_DOC = (
    '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:GetObject"],'
    '"Resource":"arn:aws:s3:::app-data/*"}]}'
)


def _match(event: Event) -> bool:
    if event.event_name in _ATTACH:
        return is_admin_managed_policy(req(event, "policyArn"))
    if event.event_name in _PUT:
        return grants_admin(load_document(req(event, "policyDocument")))
    return False


def _target(event: Event) -> str:
    for key, kind in (("roleName", "role"), ("userName", "user"), ("groupName", "group")):
        if req(event, key):
            return f"{kind} {req(event, key)}"
    return "(unknown)"


def _describe(event: Event) -> str:
    if event.event_name in _ATTACH:
        return f"attached {req(event, 'policyArn')} to {_target(event)}"
    return f"put inline admin policy {req(event, 'policyName')} on {_target(event)}"


RULE = Rule(
    id="iam_admin_policy_attached",
    title="Administrator policy attached to an IAM principal",
    severity="critical",
    mitre=("T1098.003", "T1078.004"),
    why="Admin, IAM-full or power-user rights on a principal the attacker controls is full account "
    "takeover; the seed's hidden role was made exactly this way.",
    remediation="Detach the policy (or delete the inline policy), revoke the principal's sessions and "
    "keys, and review everything it did since.",
    match=_match,
    describe=_describe,
    events=_ATTACH + _PUT,
    tactic="privilege-escalation",
    positive=(
        record(
            "AttachRolePolicy",
            "iam.amazonaws.com",
            request={
                "roleName": "ops-maintenance",
                "policyArn": "arn:aws:iam::aws:policy/AdministratorAccess",
            },
        ),
        record(
            "PutUserPolicy",
            "iam.amazonaws.com",
            request={"userName": "svc-backup", "policyName": "inline", "policyDocument": quote(_ADMIN_DOC)},
        ),
        record(
            "AttachGroupPolicy",
            "iam.amazonaws.com",
            request={"groupName": "ops", "policyArn": "arn:aws:iam::aws:policy/IAMFullAccess"},
        ),
    ),
    negative=(
        record(
            "AttachRolePolicy",
            "iam.amazonaws.com",
            request={"roleName": "app", "policyArn": "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess"},
        ),
        record(
            "PutRolePolicy",
            "iam.amazonaws.com",
            request={"roleName": "app", "policyName": "read-app-data", "policyDocument": _S3_DOC},
        ),
    ),
)
