"""An SSH public key pushed to an instance (EC2 Instance Connect or serial console).

```yaml
id: ec2_instance_connect_key_pushed
events: [SendSSHPublicKey, SendSerialConsoleSSHPublicKey]
```
"""

from __future__ import annotations

from irkit.detect.event import Event
from irkit.detect.records import record
from irkit.detect.rule import Rule
from irkit.detect.rules._util import req


def _match(event: Event) -> bool:
    return event.event_name in ("SendSSHPublicKey", "SendSerialConsoleSSHPublicKey")


def _describe(event: Event) -> str:
    return f"SSH key for {req(event, 'instanceOSUser') or 'user'} pushed to {req(event, 'instanceId')}"


RULE = Rule(
    id="ec2_instance_connect_key_pushed",
    title="SSH key pushed to an instance",
    severity="high",
    mitre=("T1021.004", "T1098.004"),
    why="Instance Connect gives a shell with a key of the caller's choosing for 60 seconds: enough to "
    "plant persistence on the host.",
    remediation="Inspect the instance for new authorized keys, users and processes.",
    match=_match,
    describe=_describe,
    events=("SendSSHPublicKey", "SendSerialConsoleSSHPublicKey"),
    tactic="execution",
    positive=(
        record(
            "SendSSHPublicKey",
            "ec2-instance-connect.amazonaws.com",
            request={
                "instanceId": "i-0abcdef1234567890",
                "instanceOSUser": "ec2-user",
                "sSHPublicKey": "ssh-ed25519 AAAAC3Nza... attacker",
            },
            response={"requestId": "x", "success": True},
        ),
    ),
    negative=(record("DescribeInstanceConnectEndpoints", "ec2.amazonaws.com", request={}, read_only=True),),
)
