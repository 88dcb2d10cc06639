"""An instance's user data replaced: code that runs as root on the next boot.

```yaml
id: ec2_user_data_modified
events: [ModifyInstanceAttribute]
```
"""

from __future__ import annotations

from irkit.detect.event import Event
from irkit.detect.records import record
from irkit.detect.rule import Rule
from irkit.detect.rules._util import req


def _match(event: Event) -> bool:
    if event.event_name != "ModifyInstanceAttribute":
        return False
    return "userData" in event.request or str(req(event, "attribute") or "") == "userData"


def _describe(event: Event) -> str:
    return f"user data of {req(event, 'instanceId')} replaced"


RULE = Rule(
    id="ec2_user_data_modified",
    title="EC2 instance user data modified",
    severity="high",
    mitre=("T1059.009", "T1098"),
    why="User data runs as root at boot; changing it (then stop/start) is code execution on the host.",
    remediation="Restore the previous user data, inspect the instance, and rebuild it if it rebooted.",
    match=_match,
    describe=_describe,
    events=("ModifyInstanceAttribute",),
    tactic="execution",
    positive=(
        record(
            "ModifyInstanceAttribute",
            "ec2.amazonaws.com",
            request={"instanceId": "i-0abcdef1234567890", "userData": "<sensitiveDataRemoved>"},
        ),
    ),
    negative=(
        record(
            "ModifyInstanceAttribute",
            "ec2.amazonaws.com",
            request={"instanceId": "i-0abcdef1234567890", "instanceType": {"value": "m6i.large"}},
        ),
    ),
)
