"""A Secrets Manager secret value read.

```yaml
id: secretsmanager_secret_read
events: [GetSecretValue, BatchGetSecretValue]
```
"""

from __future__ import annotations

from irkit.detect.event import Event
from irkit.detect.records import record
from irkit.detect.rule import Rule
from irkit.detect.rules._util import req


def _match(event: Event) -> bool:
    return event.event_source == "secretsmanager.amazonaws.com" and event.event_name in (
        "GetSecretValue",
        "BatchGetSecretValue",
    )


def _describe(event: Event) -> str:
    return f"read secret {req(event, 'secretId', 'secretIdList') or '(filtered batch)'}"


RULE = Rule(
    id="secretsmanager_secret_read",
    title="Secret value read",
    severity="medium",
    mitre=("T1555.006",),
    why="Secrets are the pivot to other systems (the seed's lateral movement: connection strings and "
    "API keys); an infrastructure agent rarely needs their values.",
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
