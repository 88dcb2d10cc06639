"""A Lambda resource policy opened to anyone or to another account.

```yaml
id: lambda_permission_public_or_external
events: [AddPermission]   # also AddPermission20150331v2 (version suffixes are stripped)
```
"""

from __future__ import annotations

from irkit.detect.event import Event
from irkit.detect.names import base_name
from irkit.detect.policy import account_of
from irkit.detect.records import record
from irkit.detect.rule import Rule
from irkit.detect.rules._util import own_account, req

_NARROWING = ("sourceArn", "sourceAccount", "principalOrgID")


def grantee(event: Event) -> str | None:
    """``*`` or the outside account the permission names, else None."""
    principal = str(req(event, "principal") or "")
    if principal == "*":
        return None if any(req(event, k) for k in _NARROWING) else "*"
    account = account_of(principal)
    if account and account != own_account(event):
        return account
    return None


def _match(event: Event) -> bool:
    return (
        event.event_source == "lambda.amazonaws.com"
        and base_name(event.event_name) == "AddPermission"
        and grantee(event) is not None
    )


def _describe(event: Event) -> str:
    return f"{req(event, 'action')} on {req(event, 'functionName')} granted to {grantee(event)}"


RULE = Rule(
    id="lambda_permission_public_or_external",
    title="Lambda function opened to anyone or another account",
    severity="high",
    mitre=("T1098", "T1546"),
    why="A public or cross-account invoke/update permission is a backdoor into code that runs with the "
    "function's role.",
    remediation="RemovePermission for the statement id and review invocations since.",
    match=_match,
    describe=_describe,
    events=("AddPermission",),
    tactic="persistence",
    positive=(
        record(
            "AddPermission20150331v2",
            "lambda.amazonaws.com",
            request={
                "functionName": "orders-api",
                "statementId": "s1",
                "action": "lambda:InvokeFunction",
                "principal": "*",
            },
        ),
        record(
            "AddPermission20150331v2",
            "lambda.amazonaws.com",
            request={
                "functionName": "orders-api",
                "statementId": "s2",
                "action": "lambda:UpdateFunctionCode",
                "principal": "999999999999",
            },
        ),
    ),
    negative=(
        record(
            "AddPermission20150331v2",
            "lambda.amazonaws.com",
            request={
                "functionName": "thumbnailer",
                "statementId": "s3-trigger",
                "action": "lambda:InvokeFunction",
                "principal": "s3.amazonaws.com",
                "sourceArn": "arn:aws:s3:::uploads",
                "sourceAccount": "111111111111",
            },
        ),
    ),
)
