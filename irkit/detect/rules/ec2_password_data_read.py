"""A Windows instance's encrypted administrator password retrieved.

```yaml
id: ec2_password_data_read
events: [GetPasswordData]
```
"""

from __future__ import annotations

from irkit.detect.event import Event
from irkit.detect.records import record
from irkit.detect.rule import Rule
from irkit.detect.rules._util import req


def _match(event: Event) -> bool:
    return event.event_name == "GetPasswordData"


def _describe(event: Event) -> str:
    return f"password data of {req(event, 'instanceId')}"


RULE = Rule(
    id="ec2_password_data_read",
    title="EC2 Windows password data retrieved",
    severity="medium",
    mitre=("T1552.005",),
    why="With the key pair, password data yields the instance's local administrator password.",
    remediation="Rotate the instance's administrator password and the key pair.",
    match=_match,
    describe=_describe,
    events=("GetPasswordData",),
    tactic="credential-access",
    positive=(
        record(
            "GetPasswordData",
            "ec2.amazonaws.com",
            request={"instanceId": "i-0abcdef1234567890"},
            read_only=True,
        ),
    ),
    negative=(
        record(
            "GetConsoleOutput",
            "ec2.amazonaws.com",
            request={"instanceId": "i-0abcdef1234567890"},
            read_only=True,
        ),
    ),
)
