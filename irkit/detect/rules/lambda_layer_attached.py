"""Layers attached to a Lambda function (UpdateFunctionConfiguration or CreateFunction with layers).

```yaml
id: lambda_layer_attached
events: [UpdateFunctionConfiguration, CreateFunction]     # logged with a 20150331(v2) suffix
severity: medium; high for a layer from another account
```
"""

from __future__ import annotations

import re

from irkit.detect.event import Event
from irkit.detect.names import base_name
from irkit.detect.policy import as_list
from irkit.detect.records import OUTSIDE_ACCOUNT, record
from irkit.detect.rule import Rule, Severity
from irkit.detect.rules._util import own_account, req

_LAYER_ARN = re.compile(r"^arn:aws[a-z-]*:lambda:[^:]*:(\d{12}):layer:")


def layers(event: Event) -> list[str]:
    found: list[str] = []
    for layer in as_list(req(event, "layers")):
        arn = layer.get("arn") if isinstance(layer, dict) else layer
        if isinstance(arn, str) and arn:
            found.append(arn)
    return found


def outside_layers(event: Event) -> list[str]:
    own = own_account(event)
    return [arn for arn in layers(event) if (m := _LAYER_ARN.match(arn)) and m.group(1) != own]


def _match(event: Event) -> bool:
    return (
        event.event_source == "lambda.amazonaws.com"
        and base_name(event.event_name) in ("UpdateFunctionConfiguration", "CreateFunction")
        and bool(layers(event))
    )


def _severity(event: Event) -> Severity:
    return "high" if outside_layers(event) else "medium"


def _describe(event: Event) -> str:
    outside = outside_layers(event)
    shown = outside or layers(event)
    where = "from another account " if outside else ""
    return f"{req(event, 'functionName')}: layer(s) {where}{', '.join(shown[:5])}"


RULE = Rule(
    id="lambda_layer_attached",
    title="Lambda layer attached to a function",
    severity="medium",
    severity_of=_severity,
    mitre=("T1546", "T1525"),
    why="A layer's code runs inside the function with its role and sees every event it handles: a layer "
    "added to an existing function is a quiet backdoor that survives code reviews of the function itself, "
    "and a layer from another account is code the account does not control.",
    remediation="Remove the layer (UpdateFunctionConfiguration with the previous layer list), inspect its "
    "content (GetLayerVersion), and review the function's invocations since.",
    match=_match,
    describe=_describe,
    events=("UpdateFunctionConfiguration", "CreateFunction"),
    tactic="persistence",
    positive=(
        record(
            "UpdateFunctionConfiguration20150331v2",
            "lambda.amazonaws.com",
            request={
                "functionName": "orders-api",
                "layers": [f"arn:aws:lambda:us-east-1:{OUTSIDE_ACCOUNT}:layer:ext:3"],
            },
        ),
        record(
            "UpdateFunctionConfiguration20150331v2",
            "lambda.amazonaws.com",
            request={"functionName": "orders-api", "layers": ["arn:aws:lambda:us-east-1:111111111111:layer:otel:12"]},
        ),
    ),
    negative=(
        record(
            "UpdateFunctionConfiguration20150331v2",
            "lambda.amazonaws.com",
            request={"functionName": "orders-api", "memorySize": 512},
        ),
        record(
            "UpdateFunctionConfiguration20150331v2",
            "lambda.amazonaws.com",
            request={"functionName": "orders-api", "layers": []},
        ),
    ),
)
