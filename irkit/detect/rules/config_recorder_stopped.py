"""AWS Config recorder stopped or deleted: configuration history switched off.

```yaml
id: config_recorder_stopped
events: [StopConfigurationRecorder, DeleteConfigurationRecorder, DeleteDeliveryChannel]
```
"""

from __future__ import annotations

from irkit.detect.event import Event
from irkit.detect.records import record
from irkit.detect.rule import Rule
from irkit.detect.rules._util import req

_NAMES = ("StopConfigurationRecorder", "DeleteConfigurationRecorder", "DeleteDeliveryChannel")


def _match(event: Event) -> bool:
    return event.event_source == "config.amazonaws.com" and event.event_name in _NAMES


def _describe(event: Event) -> str:
    return (
        f"{event.event_name} {req(event, 'configurationRecorderName', 'deliveryChannelName') or ''}".strip()
    )


RULE = Rule(
    id="config_recorder_stopped",
    title="AWS Config recording stopped",
    severity="high",
    mitre=("T1562.001",),
    why="Config records every resource change; stopping it hides configuration drift (the seed's "
    "'configuration drift attack').",
    remediation="StartConfigurationRecorder (recreate recorder and delivery channel if deleted).",
    match=_match,
    describe=_describe,
    events=_NAMES,
    tactic="defense-evasion",
    positive=(
        record(
            "StopConfigurationRecorder",
            "config.amazonaws.com",
            request={"configurationRecorderName": "default"},
        ),
    ),
    negative=(
        record(
            "StartConfigurationRecorder",
            "config.amazonaws.com",
            request={"configurationRecorderName": "default"},
        ),
    ),
)
