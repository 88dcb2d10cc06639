"""A new IAM user: the classic persistence foothold (long-lived keys, console password).

```yaml
id: iam_user_created
events: [CreateUser]
```
"""

from __future__ import annotations

from irkit.detect.event import Event
from irkit.detect.records import record
from irkit.detect.rule import Rule
from irkit.detect.rules._util import req


def _match(event: Event) -> bool:
    return event.event_name == "CreateUser"


def _describe(event: Event) -> str:
    return f"created IAM user {req(event, 'userName')}"


RULE = Rule(
    id="iam_user_created",
    title="IAM user created",
    severity="medium",
    mitre=("T1136.003",),
    why="An agent has no reason to mint IAM users; a new user with keys outlives the agent's session "
    "and survives revoking the agent's role.",
    remediation="Confirm the user is expected; otherwise deactivate its access keys, delete its login "
    "profile, detach its policies and delete it.",
    match=_match,
    describe=_describe,
    events=("CreateUser",),
    tactic="persistence",
    positive=(
        record(
            "CreateUser",
            "iam.amazonaws.com",
            request={"userName": "svc-backup"},
            response={
                "user": {
                    "path": "/",
                    "userName": "svc-backup",
                    "userId": "AIDAQEXAMPLEUSER0001",
                    "arn": "arn:aws:iam::111111111111:user/svc-backup",
                    "createDate": "Nov 25, 2026 10:00:00 AM",
                }
            },
        ),
    ),
    negative=(record("GetUser", "iam.amazonaws.com", request={"userName": "svc-backup"}, read_only=True),),
)
