"""VPC flow logs deleted: network evidence switched off.

```yaml
id: vpc_flow_logs_deleted
events: [DeleteFlowLogs]
```
"""

from __future__ import annotations

from irkit.detect.event import Event
from irkit.detect.records import record
from irkit.detect.rule import Rule
from irkit.detect.rules._util import req


def _match(event: Event) -> bool:
    return event.event_name == "DeleteFlowLogs"


def _flow_log_ids(event: Event) -> list[str]:
    """CloudTrail logs ``{"DeleteFlowLogsRequest": {"FlowLogId": {"content": id} | [...]}}``;
    older or re-shaped records carry ``flowLogIds`` (a list, or EC2's ``{"items": [...]}``)."""
    wrapped = req(event, "DeleteFlowLogsRequest")
    raw = wrapped.get("FlowLogId") if isinstance(wrapped, dict) else req(event, "flowLogIds")
    if isinstance(raw, dict) and "items" in raw:
        raw = raw["items"]
    ids = []
    for item in raw if isinstance(raw, list) else [raw]:
        value = item.get("content") if isinstance(item, dict) else item
        if isinstance(value, str):
            ids.append(value)
    return ids


def _describe(event: Event) -> str:
    return f"deleted flow logs {', '.join(_flow_log_ids(event)) or '(ids not logged)'}"


RULE = Rule(
    id="vpc_flow_logs_deleted",
    title="VPC flow logs deleted",
    severity="high",
    mitre=("T1562.008",),
    why="Flow logs are how exfiltration and C2 traffic are reconstructed; deleting them is evasion.",
    remediation="Recreate the flow logs (CreateFlowLogs) and treat the interval as a coverage gap.",
    match=_match,
    describe=_describe,
    events=("DeleteFlowLogs",),
    tactic="defense-evasion",
    positive=(
        record(
            "DeleteFlowLogs",
            "ec2.amazonaws.com",
            request={"DeleteFlowLogsRequest": {"FlowLogId": {"content": "fl-0a1b2c3d4e5f60789", "tag": 1}}},
            response={"DeleteFlowLogsResponse": {"unsuccessful": ""}},
        ),
    ),
    negative=(
        record("DescribeFlowLogs", "ec2.amazonaws.com", request={"DescribeFlowLogsRequest": {}}, read_only=True),
    ),
)
