"""CloudTrail stopped, deleted or reconfigured: blinding the audit log.

```yaml
id: cloudtrail_tampering
events: [StopLogging, DeleteTrail, UpdateTrail, PutEventSelectors, PutInsightSelectors, DeleteEventDataStore]
```
"""

from __future__ import annotations

from irkit.detect.event import Event
from irkit.detect.records import record
from irkit.detect.rule import Rule
from irkit.detect.rules._util import req

_NAMES = (
    "StopLogging",
    "DeleteTrail",
    "UpdateTrail",
    "PutEventSelectors",
    "PutInsightSelectors",
    "DeleteEventDataStore",
    "StopEventDataStoreIngestion",
)


def _match(event: Event) -> bool:
    return event.event_source == "cloudtrail.amazonaws.com" and event.event_name in _NAMES


def _describe(event: Event) -> str:
    return f"{event.event_name} on {req(event, 'name', 'trailName', 'eventDataStore') or '(trail)'}"


RULE = Rule(
    id="cloudtrail_tampering",
    title="CloudTrail logging stopped, deleted or changed",
    severity="critical",
    mitre=("T1562.008",),
    why="Stopping or narrowing the trail hides everything that follows; it is the first move of an "
    "attacker covering tracks (the seed's 'cover their tracks' step).",
    remediation="StartLogging / recreate the trail, restore its event selectors and destination, and "
    "treat the gap it caused as missing evidence.",
    match=_match,
    describe=_describe,
    events=_NAMES,
    tactic="defense-evasion",
    positive=(
        record("StopLogging", "cloudtrail.amazonaws.com", request={"name": "org-trail"}),
        record(
            "PutEventSelectors",
            "cloudtrail.amazonaws.com",
            request={
                "trailName": "org-trail",
                "eventSelectors": [{"readWriteType": "ReadOnly", "includeManagementEvents": False}],
            },
        ),
        record("DeleteTrail", "cloudtrail.amazonaws.com", request={"name": "org-trail"}),
    ),
    negative=(
        record("DescribeTrails", "cloudtrail.amazonaws.com", request={}, read_only=True),
        record("StartLogging", "cloudtrail.amazonaws.com", request={"name": "org-trail"}),
    ),
)
