"""An EBS snapshot shared with another account or made public.

```yaml
id: ec2_snapshot_shared_externally
events: [ModifySnapshotAttribute]
```
"""

from __future__ import annotations

from irkit.detect.event import Event
from irkit.detect.records import record
from irkit.detect.rule import Rule
from irkit.detect.rules._sharing import ec2_added_principals
from irkit.detect.rules._util import req


def _match(event: Event) -> bool:
    return event.event_name == "ModifySnapshotAttribute" and bool(
        ec2_added_principals(event, "createVolumePermission")
    )


def _describe(event: Event) -> str:
    added = ", ".join(ec2_added_principals(event, "createVolumePermission"))
    return f"snapshot {req(event, 'snapshotId')} shared with {added}"


RULE = Rule(
    id="ec2_snapshot_shared_externally",
    title="EBS snapshot shared outside the account",
    severity="high",
    mitre=("T1537",),
    why="Sharing a snapshot lets another account create a volume from it: a full copy of the disk.",
    remediation="Remove the createVolumePermission and check whether the other account copied it.",
    match=_match,
    describe=_describe,
    events=("ModifySnapshotAttribute",),
    tactic="exfiltration",
    positive=(
        record(
            "ModifySnapshotAttribute",
            "ec2.amazonaws.com",
            request={
                "snapshotId": "snap-0123456789abcdef0",
                "createVolumePermission": {"add": {"items": [{"userId": "999999999999"}]}},
                "attributeType": "CREATE_VOLUME_PERMISSION",
            },
        ),
    ),
    negative=(
        record(
            "ModifySnapshotAttribute",
            "ec2.amazonaws.com",
            request={
                "snapshotId": "snap-0123456789abcdef0",
                "createVolumePermission": {"add": {"items": [{"userId": "111111111111"}]}},
                "attributeType": "CREATE_VOLUME_PERMISSION",
            },
        ),
    ),
)
