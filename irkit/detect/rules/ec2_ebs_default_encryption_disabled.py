"""EBS encryption by default switched off for the region.

```yaml
id: ec2_ebs_default_encryption_disabled
events: [DisableEbsEncryptionByDefault]
```
"""

from __future__ import annotations

from irkit.detect.event import Event
from irkit.detect.records import record
from irkit.detect.rule import Rule


def _match(event: Event) -> bool:
    return event.event_name == "DisableEbsEncryptionByDefault"


RULE = Rule(
    id="ec2_ebs_default_encryption_disabled",
    title="EBS default encryption disabled",
    severity="medium",
    mitre=("T1562.001",),
    why="New volumes and snapshots are then unencrypted: easier to share or copy out of the account.",
    remediation="EnableEbsEncryptionByDefault in the region and check volumes created since.",
    match=_match,
    events=("DisableEbsEncryptionByDefault",),
    tactic="defense-evasion",
    positive=(
        record(
            "DisableEbsEncryptionByDefault",
            "ec2.amazonaws.com",
            request={"DisableEbsEncryptionByDefaultRequest": ""},
            response={"DisableEbsEncryptionByDefaultResponse": {"ebsEncryptionByDefault": False}},
        ),
    ),
    negative=(
        record(
            "GetEbsEncryptionByDefault",
            "ec2.amazonaws.com",
            request={"GetEbsEncryptionByDefaultRequest": ""},
            read_only=True,
        ),
    ),
)
