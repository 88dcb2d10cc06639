"""A new IAM role: the seed's "hidden administrative role" starts here.

```yaml
id: iam_role_created
events: [CreateRole]
```
"""

from __future__ import annotations

from irkit.detect.event import Event
from irkit.detect.policy import external_principals, load_document
from irkit.detect.records import record
from irkit.detect.rule import Rule
from irkit.detect.rules._util import own_account, req

_TRUST_EC2 = (
    '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},'
    '"Action":"sts:AssumeRole"}]}'
)


def _match(event: Event) -> bool:
    return event.event_name == "CreateRole"


def _describe(event: Event) -> str:
    trust = external_principals(load_document(req(event, "assumeRolePolicyDocument")), own_account(event))
    extra = f" trusting {', '.join(trust)}" if trust else ""
    return f"created IAM role {req(event, 'roleName')}{extra}"


RULE = Rule(
    id="iam_role_created",
    title="IAM role created",
    severity="medium",
    mitre=("T1136.003", "T1098"),
    why="A role created by an agent's credentials can be given broad permissions and assumed later, "
    "surviving the revocation of the agent's own sessions (the seed's hidden admin role).",
    remediation="Review the role's trust policy and permissions; if unexpected, revoke its sessions "
    "(AWSRevokeOlderSessions), detach its policies and delete it.",
    match=_match,
    describe=_describe,
    events=("CreateRole",),
    tactic="persistence",
    positive=(
        record(
            "CreateRole",
            "iam.amazonaws.com",
            request={"roleName": "ops-maintenance", "assumeRolePolicyDocument": _TRUST_EC2, "path": "/"},
            response={
                "role": {
                    "path": "/",
                    "roleName": "ops-maintenance",
                    "roleId": "AROAQEXAMPLEROLE0001",
                    "arn": "arn:aws:iam::111111111111:role/ops-maintenance",
                    "createDate": "Nov 25, 2026 10:00:00 AM",
                    "assumeRolePolicyDocument": "%7B%22Version%22%3A%222012-10-17%22%7D",
                }
            },
        ),
    ),
    negative=(
        record("GetRole", "iam.amazonaws.com", request={"roleName": "ops-maintenance"}, read_only=True),
    ),
)
