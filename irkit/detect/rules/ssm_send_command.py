"""Commands run on instances through SSM Run Command.

```yaml
id: ssm_send_command
events: [SendCommand]
```
"""

from __future__ import annotations

from irkit.detect.event import Event
from irkit.detect.records import record
from irkit.detect.rule import Rule
from irkit.detect.rules._util import req


def _match(event: Event) -> bool:
    return event.event_source == "ssm.amazonaws.com" and event.event_name == "SendCommand"


def _describe(event: Event) -> str:
    return f"{req(event, 'documentName')} on {req(event, 'instanceIds') or req(event, 'targets')}"


RULE = Rule(
    id="ssm_send_command",
    title="Command sent to instances through SSM",
    severity="high",
    mitre=("T1651",),
    why="Run Command executes arbitrary shell on instances as root: lateral movement from the cloud "
    "control plane into the hosts.",
    remediation="Review the command's output (ListCommandInvocations) and the targeted instances.",
    match=_match,
    describe=_describe,
    events=("SendCommand",),
    tactic="execution",
    positive=(
        record(
            "SendCommand",
            "ssm.amazonaws.com",
            request={
                "instanceIds": ["i-0abcdef1234567890"],
                "documentName": "AWS-RunShellScript",
                "parameters": "HIDDEN_DUE_TO_SECURITY_REASONS",
                "interactive": False,
            },
        ),
    ),
    negative=(record("ListCommands", "ssm.amazonaws.com", request={}, read_only=True),),
)
