"""A federation token minted: temporary credentials that outlive revoking the caller's role sessions.

```yaml
id: sts_federation_token
events: [GetFederationToken]
```
"""

from __future__ import annotations

from irkit.detect.event import Event
from irkit.detect.records import record, user_identity
from irkit.detect.rule import Rule
from irkit.detect.rules._util import req


def _match(event: Event) -> bool:
    return event.event_name == "GetFederationToken"


def _describe(event: Event) -> str:
    return f"federation token for {req(event, 'name')} ({req(event, 'durationSeconds') or 43200}s)"


RULE = Rule(
    id="sts_federation_token",
    title="STS federation token created",
    severity="high",
    mitre=("T1550.001", "T1098"),
    why="GetFederationToken credentials last up to 36 hours and are not killed by deactivating the "
    "user's keys; a known way to keep access through containment.",
    remediation="Attach the TokenIssueTime deny to the user (irkit revoke does) and review the "
    "federated session's activity.",
    match=_match,
    describe=_describe,
    events=("GetFederationToken",),
    tactic="persistence",
    positive=(
        record(
            "GetFederationToken",
            "sts.amazonaws.com",
            identity=user_identity(),
            request={"name": "maint", "durationSeconds": 129600},
            response={"credentials": {"accessKeyId": "ASIAQFEDERATED000001", "expiration": "Nov 27, 2026"}},
        ),
    ),
    negative=(record("GetCallerIdentity", "sts.amazonaws.com", identity=user_identity(), read_only=True),),
)
