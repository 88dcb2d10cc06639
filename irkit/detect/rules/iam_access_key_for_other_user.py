"""An access key created for a different IAM user: taking over (or backdooring) another identity.

```yaml
id: iam_access_key_for_other_user
events: [CreateAccessKey]
```
"""

from __future__ import annotations

from irkit.detect.event import Event
from irkit.detect.records import record, user_identity
from irkit.detect.rule import Rule
from irkit.detect.rules._util import caller_user_name, created_key_id, req


def _match(event: Event) -> bool:
    if event.event_name != "CreateAccessKey":
        return False
    target = req(event, "userName")
    return bool(target) and target != caller_user_name(event)


def _describe(event: Event) -> str:
    return f"created access key {created_key_id(event)} for user {req(event, 'userName')}"


RULE = Rule(
    id="iam_access_key_for_other_user",
    title="Access key created for another IAM user",
    severity="high",
    mitre=("T1098.001",),
    why="Minting keys for another user gives the caller that user's permissions under a new, "
    "long-lived credential the user's owner does not know about.",
    remediation="Deactivate the key, review the target user's activity with that key, then delete it.",
    match=_match,
    describe=_describe,
    events=("CreateAccessKey",),
    tactic="persistence",
    positive=(
        record(
            "CreateAccessKey",
            "iam.amazonaws.com",
            request={"userName": "svc-backup"},
            response={
                "accessKey": {
                    "userName": "svc-backup",
                    "accessKeyId": "AKIAQNEWKEY000000003",
                    "status": "Active",
                    "createDate": "Nov 25, 2026 10:00:00 AM",
                }
            },
        ),
    ),
    negative=(
        record(
            "CreateAccessKey",
            "iam.amazonaws.com",
            identity=user_identity(),
            request={"userName": "agent-infra-bot"},
            response={"accessKey": {"userName": "agent-infra-bot", "accessKeyId": "AKIAQNEWKEY000000004"}},
        ),
    ),
)
