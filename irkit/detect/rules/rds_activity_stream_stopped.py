"""An RDS database activity stream stopped.

```yaml
id: rds_activity_stream_stopped
events: [StopActivityStream]
```
"""

from __future__ import annotations

from irkit.detect.event import Event
from irkit.detect.records import record
from irkit.detect.rule import Rule
from irkit.detect.rules._util import req


def _match(event: Event) -> bool:
    return event.event_source == "rds.amazonaws.com" and event.event_name == "StopActivityStream"


def _describe(event: Event) -> str:
    return f"activity stream of {req(event, 'resourceArn')} stopped"


RULE = Rule(
    id="rds_activity_stream_stopped",
    title="RDS database activity stream stopped",
    severity="high",
    mitre=("T1562.008",),
    why="The activity stream is the database's own audit log (every query, every login), delivered where "
    "the database administrators cannot tamper with it; stopping it blinds that audit before data access.",
    remediation="Start the stream again (StartActivityStream) and treat the interval without it as missing evidence.",
    match=_match,
    describe=_describe,
    events=("StopActivityStream",),
    tactic="defense-evasion",
    positive=(
        record(
            "StopActivityStream",
            "rds.amazonaws.com",
            request={"resourceArn": "arn:aws:rds:us-east-1:111111111111:cluster:ledger", "applyImmediately": True},
        ),
    ),
    negative=(
        record(
            "StartActivityStream",
            "rds.amazonaws.com",
            request={
                "resourceArn": "arn:aws:rds:us-east-1:111111111111:cluster:ledger",
                "mode": "async",
                "kmsKeyId": "k",
            },
        ),
    ),
)
