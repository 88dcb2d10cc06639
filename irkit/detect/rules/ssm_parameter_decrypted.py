"""SSM Parameter Store SecureString values read with decryption: an access, recorded (low);
``secret_read_unusual`` raises it.

```yaml
id: ssm_parameter_decrypted
events: [GetParameter, GetParameters, GetParametersByPath, GetParameterHistory]
```
"""

from __future__ import annotations

from irkit.detect.event import Event
from irkit.detect.policy import truthy
from irkit.detect.records import record
from irkit.detect.rule import Rule
from irkit.detect.rules._util import req

_NAMES = ("GetParameter", "GetParameters", "GetParametersByPath", "GetParameterHistory")


def _match(event: Event) -> bool:
    return (
        event.event_source == "ssm.amazonaws.com"
        and event.event_name in _NAMES
        and truthy(req(event, "withDecryption"))
    )


def _describe(event: Event) -> str:
    return f"decrypted {req(event, 'name', 'names', 'path')}"


RULE = Rule(
    id="ssm_parameter_decrypted",
    title="SSM SecureString parameter decrypted",
    severity="low",
    mitre=("T1555.006",),
    why="SecureString parameters hold passwords and tokens, and applications decrypt theirs at every "
    "start: each read is an access, recorded for rotation (the inventory lists every parameter read), not "
    "an alarm. A read that is not routine — never in the baseline, a new network, a burst of first reads — "
    "is `secret_read_unusual`.",
    remediation="Rotate the parameters read and restrict kms:Decrypt on their key.",
    match=_match,
    describe=_describe,
    events=_NAMES,
    tactic="credential-access",
    positive=(
        record(
            "GetParametersByPath",
            "ssm.amazonaws.com",
            request={"path": "/prod/", "recursive": True, "withDecryption": True},
            read_only=True,
        ),
    ),
    negative=(
        record(
            "GetParameter",
            "ssm.amazonaws.com",
            request={"name": "/app/feature-flags", "withDecryption": False},
            read_only=True,
        ),
    ),
)
