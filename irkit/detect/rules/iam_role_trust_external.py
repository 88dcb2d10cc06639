"""A role trust policy opened to another account or to anyone (``*``).

```yaml
id: iam_role_trust_external
events: [UpdateAssumeRolePolicy, CreateRole]
```
"""

from __future__ import annotations

from urllib.parse import quote

from irkit.detect.event import Event
from irkit.detect.policy import external_principals, load_document
from irkit.detect.records import record
from irkit.detect.rule import Rule
from irkit.detect.rules._util import own_account, req


def _trust(principal: str) -> str:
    return (
        '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"'
        + principal
        + '"},"Action":"sts:AssumeRole"}]}'
    )


def _outside(event: Event) -> tuple[str, ...]:
    doc = load_document(req(event, "policyDocument", "assumeRolePolicyDocument"))
    return external_principals(doc, own_account(event))


def _match(event: Event) -> bool:
    return event.event_name in ("UpdateAssumeRolePolicy", "CreateRole") and bool(_outside(event))


def _describe(event: Event) -> str:
    return f"role {req(event, 'roleName')} trusts {', '.join(_outside(event))}"


RULE = Rule(
    id="iam_role_trust_external",
    title="IAM role trusts an outside account or anyone",
    severity="critical",
    mitre=("T1098", "T1199"),
    why="A trust policy naming a foreign account (or *) lets that account assume the role at will: "
    "a backdoor that needs no credential from this account at all.",
    remediation="Restore the trust policy (UpdateAssumeRolePolicy) to the intended principals and "
    "revoke existing sessions of the role.",
    match=_match,
    describe=_describe,
    events=("UpdateAssumeRolePolicy", "CreateRole"),
    tactic="persistence",
    positive=(
        record(
            "UpdateAssumeRolePolicy",
            "iam.amazonaws.com",
            request={
                "roleName": "ops-maintenance",
                "policyDocument": _trust("arn:aws:iam::999999999999:root"),
            },
        ),
        record(
            "CreateRole",
            "iam.amazonaws.com",
            request={"roleName": "vendor-access", "assumeRolePolicyDocument": quote(_trust("*"))},
            response={
                "role": {"roleName": "vendor-access", "arn": "arn:aws:iam::111111111111:role/vendor-access"}
            },
        ),
    ),
    negative=(
        record(
            "UpdateAssumeRolePolicy",
            "iam.amazonaws.com",
            request={"roleName": "ops", "policyDocument": _trust("arn:aws:iam::111111111111:role/ci")},
        ),
    ),
)
