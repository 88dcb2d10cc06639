"""A user added to a privileged group (admins, power users, security, IAM managers).

```yaml
id: iam_privileged_group_membership
events: [AddUserToGroup]
```
"""

from __future__ import annotations

import re

from irkit.detect.event import Event
from irkit.detect.records import record
from irkit.detect.rule import Rule
from irkit.detect.rules._util import req

_PRIVILEGED = re.compile(r"admin|power|root|super|security|iam|full.?access|owner|break.?glass", re.I)


def _match(event: Event) -> bool:
    group = req(event, "groupName")
    return event.event_name == "AddUserToGroup" and isinstance(group, str) and bool(_PRIVILEGED.search(group))


def _describe(event: Event) -> str:
    return f"added {req(event, 'userName')} to group {req(event, 'groupName')}"


RULE = Rule(
    id="iam_privileged_group_membership",
    title="User added to a privileged IAM group",
    severity="high",
    mitre=("T1098",),
    why="Group membership grants the group's policies without touching any policy: a quiet escalation.",
    remediation="Remove the user from the group (RemoveUserFromGroup) and review its recent activity.",
    match=_match,
    describe=_describe,
    events=("AddUserToGroup",),
    tactic="privilege-escalation",
    positive=(
        record(
            "AddUserToGroup",
            "iam.amazonaws.com",
            request={"groupName": "Administrators", "userName": "svc-backup"},
        ),
    ),
    negative=(
        record(
            "AddUserToGroup", "iam.amazonaws.com", request={"groupName": "readonly-devs", "userName": "jane"}
        ),
    ),
)
