"""A Lambda function URL with no authentication (``AuthType NONE``).

```yaml
id: lambda_function_url_public
events: [CreateFunctionUrlConfig, UpdateFunctionUrlConfig]   # logged with a 20211031 suffix
```
"""

from __future__ import annotations

from irkit.detect.event import Event
from irkit.detect.names import base_name
from irkit.detect.records import record
from irkit.detect.rule import Rule
from irkit.detect.rules._util import req


def _match(event: Event) -> bool:
    return (
        event.event_source == "lambda.amazonaws.com"
        and base_name(event.event_name) in ("CreateFunctionUrlConfig", "UpdateFunctionUrlConfig")
        and str(req(event, "authType") or "").upper() == "NONE"
    )


def _describe(event: Event) -> str:
    return f"unauthenticated URL on {req(event, 'functionName')}"


RULE = Rule(
    id="lambda_function_url_public",
    title="Unauthenticated Lambda function URL",
    severity="high",
    mitre=("T1190", "T1546"),
    why="A function URL with AuthType NONE is an internet endpoint running with the function's role.",
    remediation="Delete the URL config or set AuthType AWS_IAM.",
    match=_match,
    describe=_describe,
    events=("CreateFunctionUrlConfig", "UpdateFunctionUrlConfig"),
    tactic="exposure",
    positive=(
        record(
            "CreateFunctionUrlConfig20211031",
            "lambda.amazonaws.com",
            request={"functionName": "orders-api", "authType": "NONE"},
        ),
    ),
    negative=(
        record(
            "CreateFunctionUrlConfig20211031",
            "lambda.amazonaws.com",
            request={"functionName": "orders-api", "authType": "AWS_IAM"},
        ),
    ),
)
