"""A Lambda layer version shared with another account or with everyone.

```yaml
id: lambda_layer_shared_externally
events: [AddLayerVersionPermission]     # logged as AddLayerVersionPermission20181031
```
"""

from __future__ import annotations

from irkit.detect.event import Event
from irkit.detect.policy import account_of
from irkit.detect.records import OUTSIDE_ACCOUNT, record
from irkit.detect.rule import Rule
from irkit.detect.rules._util import own_account, req


def _grantee(event: Event) -> str | None:
    principal = str(req(event, "principal") or "")
    if principal == "*":
        return None if req(event, "organizationId") else "everyone"
    account = account_of(principal)
    return account if account and account != own_account(event) else None


def _match(event: Event) -> bool:
    return (
        event.event_source == "lambda.amazonaws.com"
        and event.event_name.startswith("AddLayerVersionPermission")
        and (_grantee(event) is not None)
    )


def _describe(event: Event) -> str:
    return f"layer {req(event, 'layerName')} version {req(event, 'versionNumber')} shared with {_grantee(event)}"


def _share(principal: str, **extra: object) -> dict[str, object]:
    return {
        "layerName": "shared-utils",
        "versionNumber": 4,
        "statementId": "share",
        "action": "lambda:GetLayerVersion",
        "principal": principal,
        **extra,
    }


RULE = Rule(
    id="lambda_layer_shared_externally",
    title="Lambda layer shared outside the account",
    severity="high",
    mitre=("T1537", "T1546"),
    why="A shared layer version can be downloaded (its code, and any secret baked into it) and attached by "
    "the other account: a way to carry code and data out, or to plant a layer other accounts then trust.",
    remediation="Remove the permission (RemoveLayerVersionPermission with the statement id) and check the "
    "layer's content for secrets to rotate.",
    match=_match,
    describe=_describe,
    events=("AddLayerVersionPermission",),
    tactic="exfiltration",
    positive=(
        record("AddLayerVersionPermission20181031", "lambda.amazonaws.com", request=_share("*")),
        record("AddLayerVersionPermission20181031", "lambda.amazonaws.com", request=_share(OUTSIDE_ACCOUNT)),
    ),
    negative=(
        record(
            "AddLayerVersionPermission20181031",
            "lambda.amazonaws.com",
            request=_share("*", organizationId="o-abc123def4"),
        ),
        record("AddLayerVersionPermission20181031", "lambda.amazonaws.com", request=_share("111111111111")),
    ),
)
