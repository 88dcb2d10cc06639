"""An access key created for the caller itself: a long-lived credential beside the agent's own.

```yaml
id: iam_access_key_created
events: [CreateAccessKey]
```
"""

from __future__ import annotations

from irkit.detect.event import Event
from irkit.detect.records import AGENT_USER, record, user_identity
from irkit.detect.rule import Rule
from irkit.detect.rules._util import caller_user_name, created_key_id, req


def _for_self(event: Event) -> bool:
    target = req(event, "userName")
    return not target or target == caller_user_name(event)


def _match(event: Event) -> bool:
    return event.event_name == "CreateAccessKey" and _for_self(event)


def _describe(event: Event) -> str:
    return f"created access key {created_key_id(event)} for the caller {event.principal_arn}"


RULE = Rule(
    id="iam_access_key_created",
    title="IAM access key created",
    severity="medium",
    mitre=("T1098.001",),
    why="A second long-lived key survives rotating the one that leaked; agents should not mint keys.",
    remediation="Deactivate the new key (UpdateAccessKey Inactive), find where it was used, then delete it.",
    match=_match,
    describe=_describe,
    events=("CreateAccessKey",),
    tactic="persistence",
    positive=(
        record(
            "CreateAccessKey",
            "iam.amazonaws.com",
            identity=user_identity(),
            request=None,
            response={
                "accessKey": {
                    "userName": "agent-infra-bot",
                    "accessKeyId": "AKIAQNEWKEY000000001",
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
            request={"userName": "someone-else"},
            response={"accessKey": {"userName": "someone-else", "accessKeyId": "AKIAQNEWKEY000000002"}},
        ),
        record("ListAccessKeys", "iam.amazonaws.com", identity=user_identity(AGENT_USER), read_only=True),
    ),
)
