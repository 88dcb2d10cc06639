"""An interactive SSM Session Manager shell opened on an instance.

```yaml
id: ssm_start_session
events: [StartSession]
```
"""

from __future__ import annotations

from irkit.detect.event import Event
from irkit.detect.records import record
from irkit.detect.rule import Rule
from irkit.detect.rules._util import req


def _match(event: Event) -> bool:
    return event.event_source == "ssm.amazonaws.com" and event.event_name == "StartSession"


def _describe(event: Event) -> str:
    return f"session on {req(event, 'target')}"


RULE = Rule(
    id="ssm_start_session",
    title="SSM session started on an instance",
    severity="high",
    mitre=("T1651", "T1021"),
    why="An interactive shell on a host; an API-driven agent has no use for one.",
    remediation="Terminate the session (TerminateSession) and review the session log.",
    match=_match,
    describe=_describe,
    events=("StartSession",),
    tactic="execution",
    positive=(
        record(
            "StartSession",
            "ssm.amazonaws.com",
            request={"target": "i-0abcdef1234567890"},
            response={"sessionId": "agent-run-0a1b2c3d4e5f6", "streamUrl": "wss://ssmmessages..."},
        ),
    ),
    negative=(record("DescribeSessions", "ssm.amazonaws.com", request={"state": "Active"}, read_only=True),),
)
