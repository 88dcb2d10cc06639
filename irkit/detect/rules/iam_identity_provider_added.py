"""An OpenID Connect or SAML identity provider added to IAM (or its trust widened).

```yaml
id: iam_identity_provider_added
events: [CreateOpenIDConnectProvider, AddClientIDToOpenIDConnectProvider,
         UpdateOpenIDConnectProviderThumbprint, CreateSAMLProvider, UpdateSAMLProvider]
```
"""

from __future__ import annotations

from irkit.detect.event import Event
from irkit.detect.records import record
from irkit.detect.rule import Rule
from irkit.detect.rules._util import req

_NAMES = (
    "CreateOpenIDConnectProvider",
    "AddClientIDToOpenIDConnectProvider",
    "UpdateOpenIDConnectProviderThumbprint",
    "CreateSAMLProvider",
    "UpdateSAMLProvider",
)


def _match(event: Event) -> bool:
    return event.event_source == "iam.amazonaws.com" and event.event_name in _NAMES


def _describe(event: Event) -> str:
    target = req(event, "url", "openIDConnectProviderArn", "name", "sAMLProviderArn") or ""
    return f"{event.event_name} {target}".strip()


RULE = Rule(
    id="iam_identity_provider_added",
    title="IAM identity provider (OIDC or SAML) added or changed",
    severity="high",
    mitre=("T1484.002",),
    why="An identity provider lets an outside system mint sessions for any role that trusts it: a new "
    "OIDC issuer (a CI system the attacker controls) or SAML provider is federated persistence that no "
    "access-key rotation removes.",
    remediation="Delete the provider (DeleteOpenIDConnectProvider / DeleteSAMLProvider, or revert the "
    "client id or thumbprint), then find and fix every role trust policy naming it.",
    match=_match,
    describe=_describe,
    events=_NAMES,
    tactic="persistence",
    positive=(
        record(
            "CreateOpenIDConnectProvider",
            "iam.amazonaws.com",
            request={
                "url": "https://token.ci.example.net",
                "clientIDList": ["sts.amazonaws.com"],
                "thumbprintList": ["9e99a48a9960b14926bb7f3b02e22da2b0ab7280"],
            },
        ),
        record(
            "CreateSAMLProvider",
            "iam.amazonaws.com",
            request={"name": "corp-idp", "sAMLMetadataDocument": "<md:EntityDescriptor …>"},
        ),
    ),
    negative=(
        record("ListOpenIDConnectProviders", "iam.amazonaws.com", request={}, read_only=True),
        record(
            "DeleteOpenIDConnectProvider",
            "iam.amazonaws.com",
            request={"openIDConnectProviderArn": "arn:aws:iam::111111111111:oidc-provider/token.ci.example.net"},
        ),
    ),
)
