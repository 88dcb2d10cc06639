"""A Lambda function's code replaced.

```yaml
id: lambda_function_code_updated
events: [UpdateFunctionCode]   # logged as UpdateFunctionCode20150331v2
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
        event.event_source == "lambda.amazonaws.com" and base_name(event.event_name) == "UpdateFunctionCode"
    )


def _describe(event: Event) -> str:
    return f"new code for {req(event, 'functionName')}"


RULE = Rule(
    id="lambda_function_code_updated",
    title="Lambda function code replaced",
    severity="medium",
    mitre=("T1525", "T1546"),
    why="Replacing a function's code runs the attacker's code with the function's role on every "
    "invocation: a quiet, event-triggered backdoor.",
    remediation="Redeploy the function from its pipeline (or publish the previous version) and review "
    "the new code package.",
    match=_match,
    describe=_describe,
    events=("UpdateFunctionCode",),
    tactic="persistence",
    positive=(
        record(
            "UpdateFunctionCode20150331v2",
            "lambda.amazonaws.com",
            request={"functionName": "orders-api", "publish": True, "dryRun": False},
            response={"functionName": "orders-api", "codeSha256": "x", "version": "12"},
        ),
    ),
    negative=(
        record(
            "UpdateFunctionConfiguration20150331v2",
            "lambda.amazonaws.com",
            request={"functionName": "orders-api", "memorySize": 512},
        ),
    ),
)
