"""A KMS key scheduled for deletion or disabled: data encrypted under it becomes unreadable.

```yaml
id: kms_key_deletion
events: [ScheduleKeyDeletion, DisableKey]
```
"""

from __future__ import annotations

from irkit.detect.event import Event
from irkit.detect.records import record
from irkit.detect.rule import Rule
from irkit.detect.rules._util import req


def _match(event: Event) -> bool:
    return event.event_source == "kms.amazonaws.com" and event.event_name in (
        "ScheduleKeyDeletion",
        "DisableKey",
    )


def _describe(event: Event) -> str:
    days = req(event, "pendingWindowInDays")
    when = f" in {days} days" if days else ""
    return f"{event.event_name} {req(event, 'keyId')}{when}"


RULE = Rule(
    id="kms_key_deletion",
    title="KMS key scheduled for deletion or disabled",
    severity="high",
    mitre=("T1485", "T1486"),
    why="Deleting or disabling a key makes everything encrypted under it unreadable: destruction or "
    "ransom without touching the data itself.",
    remediation="CancelKeyDeletion / EnableKey within the waiting period, then review the key policy.",
    match=_match,
    describe=_describe,
    events=("ScheduleKeyDeletion", "DisableKey"),
    tactic="impact",
    positive=(
        record(
            "ScheduleKeyDeletion",
            "kms.amazonaws.com",
            request={"keyId": "arn:aws:kms:us-east-1:111111111111:key/1234abcd", "pendingWindowInDays": 7},
            response={
                "keyId": "arn:aws:kms:us-east-1:111111111111:key/1234abcd",
                "keyState": "PendingDeletion",
            },
        ),
        record("DisableKey", "kms.amazonaws.com", request={"keyId": "1234abcd-12ab-34cd-56ef-1234567890ab"}),
    ),
    negative=(
        record(
            "Decrypt",
            "kms.amazonaws.com",
            request={"encryptionAlgorithm": "SYMMETRIC_DEFAULT"},
            read_only=True,
        ),
        record("CancelKeyDeletion", "kms.amazonaws.com", request={"keyId": "1234abcd"}),
    ),
)
