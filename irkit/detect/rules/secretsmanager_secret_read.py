"""A Secrets Manager secret value read: an access, recorded (low); ``secret_read_unusual`` raises it.

```yaml
id: secretsmanager_secret_read
events: [GetSecretValue, BatchGetSecretValue]
```
"""

from __future__ import annotations

from irkit.detect.event import Event
from irkit.detect.reads import secret_read
from irkit.detect.records import record
from irkit.detect.rule import Rule


def _match(event: Event) -> bool:
    return event.event_source == "secretsmanager.amazonaws.com" and event.event_name in (
        "GetSecretValue",
        "BatchGetSecretValue",
    )


def _describe(event: Event) -> str:
    read = secret_read(event)
    names = read.names if read is not None else ()
    return f"read secret {', '.join(names[:5])}" + (" …" if len(names) > 5 else "")


RULE = Rule(
    id="secretsmanager_secret_read",
    title="Secret value read",
    severity="low",
    mitre=("T1555.006",),
    why="Secrets are the pivot to other systems (the seed's lateral movement: connection strings and "
    "API keys), and workloads read theirs all day: each read is an access, recorded so every secret the "
    "principal read can be rotated (the inventory lists them all), not an alarm. A read that is not "
    "routine — a secret the baseline never read, a new network, a burst — is `secret_read_unusual`.",
    remediation="Rotate every secret read by the compromised principal and review where it is used.",
    match=_match,
    describe=_describe,
    events=("GetSecretValue", "BatchGetSecretValue"),
    tactic="credential-access",
    positive=(
        record(
            "GetSecretValue",
            "secretsmanager.amazonaws.com",
            request={"secretId": "prod/orders/db"},
            read_only=True,
        ),
        record(
            "BatchGetSecretValue",
            "secretsmanager.amazonaws.com",
            request={"filters": [{"key": "name", "values": ["prod/"]}]},
            read_only=True,
        ),
    ),
    negative=(
        record(
            "DescribeSecret",
            "secretsmanager.amazonaws.com",
            request={"secretId": "prod/orders/db"},
            read_only=True,
        ),
    ),
)
