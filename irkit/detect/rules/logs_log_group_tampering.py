"""CloudWatch log groups deleted, or their retention cut short.

```yaml
id: logs_log_group_tampering
events: [DeleteLogGroup, DeleteLogStream, PutRetentionPolicy, DeleteSubscriptionFilter]
```
"""

from __future__ import annotations

from irkit.detect.event import Event
from irkit.detect.records import record
from irkit.detect.rule import Rule
from irkit.detect.rules._util import req

SHORT_RETENTION_DAYS = 30


def _match(event: Event) -> bool:
    if event.event_source != "logs.amazonaws.com":
        return False
    if event.event_name in ("DeleteLogGroup", "DeleteLogStream", "DeleteSubscriptionFilter"):
        return True
    if event.event_name == "PutRetentionPolicy":
        days = req(event, "retentionInDays")
        try:
            return int(days) < SHORT_RETENTION_DAYS
        except (TypeError, ValueError):
            return False
    return False


def _describe(event: Event) -> str:
    group = req(event, "logGroupName")
    if event.event_name == "PutRetentionPolicy":
        return f"retention of {group} cut to {req(event, 'retentionInDays')} days"
    return f"{event.event_name} {group}"


RULE = Rule(
    id="logs_log_group_tampering",
    title="CloudWatch logs deleted or retention shortened",
    severity="high",
    mitre=("T1562.008", "T1070"),
    why="Deleting a log group, or cutting retention to a day, destroys application and security logs.",
    remediation="Recreate the group and its subscriptions, restore the retention, and note the lost data.",
    match=_match,
    describe=_describe,
    events=("DeleteLogGroup", "DeleteLogStream", "PutRetentionPolicy", "DeleteSubscriptionFilter"),
    tactic="defense-evasion",
    positive=(
        record("DeleteLogGroup", "logs.amazonaws.com", request={"logGroupName": "/aws/lambda/payments"}),
        record(
            "PutRetentionPolicy",
            "logs.amazonaws.com",
            request={"logGroupName": "/security/audit", "retentionInDays": 1},
        ),
    ),
    negative=(
        record(
            "PutRetentionPolicy",
            "logs.amazonaws.com",
            request={"logGroupName": "/aws/lambda/payments", "retentionInDays": 365},
        ),
    ),
)
