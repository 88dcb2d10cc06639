"""An instance's user data read through the EC2 API (``DescribeInstanceAttribute userData``).

```yaml
id: ec2_user_data_read
events: [DescribeInstanceAttribute]
```
"""

from __future__ import annotations

from irkit.detect.event import Event
from irkit.detect.records import record
from irkit.detect.rule import Rule
from irkit.detect.rules._util import req


def _match(event: Event) -> bool:
    return (
        event.event_source == "ec2.amazonaws.com"
        and event.event_name == "DescribeInstanceAttribute"
        and str(req(event, "attribute") or "").lower() == "userdata"
    )


def _describe(event: Event) -> str:
    return f"read the user data of {req(event, 'instanceId')}"


RULE = Rule(
    id="ec2_user_data_read",
    title="Instance user data read",
    severity="medium",
    mitre=("T1552",),
    why="User data is the boot script: it often carries database passwords, tokens and bootstrap keys in "
    "clear, and any principal with ec2:DescribeInstanceAttribute can read it. Reading it across instances "
    "is a classic way to find secrets.",
    remediation="Rotate any credential found in the instances' user data and move it to Secrets Manager or "
    "SSM Parameter Store; deny ec2:DescribeInstanceAttribute to principals that do not need it.",
    match=_match,
    describe=_describe,
    events=("DescribeInstanceAttribute",),
    tactic="credential-access",
    positive=(
        record(
            "DescribeInstanceAttribute",
            "ec2.amazonaws.com",
            request={"instanceId": "i-0a1b2c3d4e5f60718", "attribute": "userData"},
            read_only=True,
        ),
    ),
    negative=(
        record(
            "DescribeInstanceAttribute",
            "ec2.amazonaws.com",
            request={"instanceId": "i-0a1b2c3d4e5f60718", "attribute": "instanceType"},
            read_only=True,
        ),
    ),
)
