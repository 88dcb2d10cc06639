"""EC2 serial console access enabled for the account.

```yaml
id: ec2_serial_console_enabled
events: [EnableSerialConsoleAccess]
```
"""

from __future__ import annotations

from irkit.detect.event import Event
from irkit.detect.records import record
from irkit.detect.rule import Rule


def _match(event: Event) -> bool:
    return event.event_name == "EnableSerialConsoleAccess"


RULE = Rule(
    id="ec2_serial_console_enabled",
    title="EC2 serial console access enabled",
    severity="medium",
    mitre=("T1021",),
    why="The serial console reaches an instance even with its network locked down; it is off by "
    "default and rarely needed.",
    remediation="DisableSerialConsoleAccess unless a human operator asked for it.",
    match=_match,
    events=("EnableSerialConsoleAccess",),
    tactic="execution",
    positive=(record("EnableSerialConsoleAccess", "ec2.amazonaws.com", request={}),),
    negative=(record("GetSerialConsoleAccessStatus", "ec2.amazonaws.com", request={}, read_only=True),),
)
