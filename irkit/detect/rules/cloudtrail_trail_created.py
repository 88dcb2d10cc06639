"""A new CloudTrail trail created.

```yaml
id: cloudtrail_trail_created
events: [CreateTrail]
```
"""

from __future__ import annotations

from irkit.detect.event import Event
from irkit.detect.records import record
from irkit.detect.rule import Rule
from irkit.detect.rules._util import req


def _match(event: Event) -> bool:
    return event.event_source == "cloudtrail.amazonaws.com" and event.event_name == "CreateTrail"


def _describe(event: Event) -> str:
    return f"trail {req(event, 'name')} delivering to s3://{req(event, 's3BucketName')}"


RULE = Rule(
    id="cloudtrail_trail_created",
    title="CloudTrail trail created",
    severity="medium",
    mitre=("T1537", "T1562.008"),
    why="Trails are set up once by the account's owners; a new one from an agent's credentials can copy "
    "the account's whole activity to a bucket the caller chooses (another account's) — reconnaissance by "
    "subscription — or pave the way for swapping the real trail.",
    remediation="Check the destination bucket's owner; delete the trail (DeleteTrail) if it is not the owners'.",
    match=_match,
    describe=_describe,
    events=("CreateTrail",),
    tactic="exfiltration",
    positive=(
        record(
            "CreateTrail",
            "cloudtrail.amazonaws.com",
            request={"name": "ops-audit", "s3BucketName": "ops-audit-logs-7731", "isMultiRegionTrail": True},
        ),
    ),
    negative=(record("DescribeTrails", "cloudtrail.amazonaws.com", request={}, read_only=True),),
)
