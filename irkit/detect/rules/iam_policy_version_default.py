"""A managed policy's default version replaced: rewriting what every attached principal may do.

```yaml
id: iam_policy_version_default
events: [CreatePolicyVersion, SetDefaultPolicyVersion]
```
"""

from __future__ import annotations

from irkit.detect.event import Event
from irkit.detect.policy import grants_admin, load_document, truthy
from irkit.detect.records import record
from irkit.detect.rule import Rule
from irkit.detect.rules._util import req

_DOC = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}'


def _match(event: Event) -> bool:
    if event.event_name == "SetDefaultPolicyVersion":
        return True
    return event.event_name == "CreatePolicyVersion" and truthy(req(event, "setAsDefault"))


def _describe(event: Event) -> str:
    admin = grants_admin(load_document(req(event, "policyDocument")))
    version = req(event, "versionId") or "new version"
    return f"made {version} the default of {req(event, 'policyArn')}" + (" (grants *:*)" if admin else "")


RULE = Rule(
    id="iam_policy_version_default",
    title="IAM policy default version changed",
    severity="high",
    mitre=("T1098", "T1484"),
    why="CreatePolicyVersion --set-as-default (or rolling back to an older version) is a known "
    "privilege escalation: it changes every principal the policy is attached to, without an attach.",
    remediation="Set the previous version as default again, delete the new version, and review who "
    "holds the policy.",
    match=_match,
    describe=_describe,
    events=("CreatePolicyVersion", "SetDefaultPolicyVersion"),
    tactic="privilege-escalation",
    positive=(
        record(
            "CreatePolicyVersion",
            "iam.amazonaws.com",
            request={
                "policyArn": "arn:aws:iam::111111111111:policy/agent-infra",
                "policyDocument": _DOC,
                "setAsDefault": True,
            },
            response={"policyVersion": {"versionId": "v4", "isDefaultVersion": True}},
        ),
        record(
            "SetDefaultPolicyVersion",
            "iam.amazonaws.com",
            request={"policyArn": "arn:aws:iam::111111111111:policy/agent-infra", "versionId": "v1"},
        ),
    ),
    negative=(
        record(
            "CreatePolicyVersion",
            "iam.amazonaws.com",
            request={
                "policyArn": "arn:aws:iam::111111111111:policy/agent-infra",
                "policyDocument": _DOC,
                "setAsDefault": False,
            },
        ),
    ),
)
