"""A console password created or reset for an IAM user: console access the agent never needs.

```yaml
id: iam_login_profile_changed
events: [CreateLoginProfile, UpdateLoginProfile]
```
"""

from __future__ import annotations

from irkit.detect.event import Event
from irkit.detect.records import record
from irkit.detect.rule import Rule
from irkit.detect.rules._util import req


def _match(event: Event) -> bool:
    return event.event_name in ("CreateLoginProfile", "UpdateLoginProfile")


def _describe(event: Event) -> str:
    verb = "created" if event.event_name == "CreateLoginProfile" else "reset"
    return f"{verb} console password of {req(event, 'userName') or event.principal_arn}"


RULE = Rule(
    id="iam_login_profile_changed",
    title="IAM console password created or changed",
    severity="high",
    mitre=("T1098", "T1078.004"),
    why="A console password turns API credentials into interactive access and survives key revocation.",
    remediation="Delete the login profile (DeleteLoginProfile) and review console sign-ins for the user.",
    match=_match,
    describe=_describe,
    events=("CreateLoginProfile", "UpdateLoginProfile"),
    tactic="persistence",
    positive=(
        record(
            "CreateLoginProfile",
            "iam.amazonaws.com",
            request={"userName": "svc-backup", "passwordResetRequired": False},
            response={"loginProfile": {"userName": "svc-backup", "passwordResetRequired": False}},
        ),
        record(
            "UpdateLoginProfile",
            "iam.amazonaws.com",
            request={"userName": "admin-jane", "passwordResetRequired": False},
        ),
    ),
    negative=(record("GetLoginProfile", "iam.amazonaws.com", request={"userName": "x"}, read_only=True),),
)
