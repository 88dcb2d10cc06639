"""An AMI shared with another account or made public.

```yaml
id: ec2_ami_shared_externally
events: [ModifyImageAttribute]
```
"""

from __future__ import annotations

from irkit.detect.event import Event
from irkit.detect.records import record
from irkit.detect.rule import Rule
from irkit.detect.rules._sharing import ec2_added_principals
from irkit.detect.rules._util import req


def _match(event: Event) -> bool:
    return event.event_name == "ModifyImageAttribute" and bool(
        ec2_added_principals(event, "launchPermission")
    )


def _describe(event: Event) -> str:
    added = ", ".join(ec2_added_principals(event, "launchPermission"))
    return f"AMI {req(event, 'imageId')} shared with {added}"


RULE = Rule(
    id="ec2_ami_shared_externally",
    title="AMI shared outside the account",
    severity="high",
    mitre=("T1537",),
    why="An AMI carries disk contents (keys, configs, data); sharing it copies them out of the account.",
    remediation="Remove the launch permission (ModifyImageAttribute --launch-permission Remove=...).",
    match=_match,
    describe=_describe,
    events=("ModifyImageAttribute",),
    tactic="exfiltration",
    positive=(
        record(
            "ModifyImageAttribute",
            "ec2.amazonaws.com",
            request={
                "imageId": "ami-0abc1234def567890",
                "launchPermission": {"add": {"items": [{"userId": "999999999999"}]}},
                "attributeType": "launchPermission",
            },
        ),
        record(
            "ModifyImageAttribute",
            "ec2.amazonaws.com",
            request={
                "imageId": "ami-0abc1234def567890",
                "launchPermission": {"add": {"items": [{"group": "all"}]}},
                "attributeType": "launchPermission",
            },
        ),
    ),
    negative=(
        record(
            "ModifyImageAttribute",
            "ec2.amazonaws.com",
            request={
                "imageId": "ami-0abc1234def567890",
                "description": {"value": "golden image 2026-11"},
                "attributeType": "description",
            },
        ),
    ),
)
