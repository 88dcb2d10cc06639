"""IAM Roles Anywhere trust anchor or profile created or changed: outside certificates get roles.

```yaml
id: rolesanywhere_trust_anchor_created
events: [CreateTrustAnchor, UpdateTrustAnchor, EnableTrustAnchor, CreateProfile, UpdateProfile]
```
"""

from __future__ import annotations

from irkit.detect.detector import named
from irkit.detect.event import Event
from irkit.detect.policy import as_list
from irkit.detect.records import record
from irkit.detect.rule import Rule
from irkit.detect.rules._util import req

_NAMES = ("CreateTrustAnchor", "UpdateTrustAnchor", "EnableTrustAnchor", "CreateProfile", "UpdateProfile")


def _match(event: Event) -> bool:
    return event.event_source == "rolesanywhere.amazonaws.com" and event.event_name in _NAMES


def _describe(event: Event) -> str:
    name = req(event, "name", "trustAnchorId", "profileId") or ""
    roles = [str(r).rsplit("/", 1)[-1] for r in as_list(req(event, "roleArns"))]
    return f"{event.event_name} {name}" + (f" for roles {named(roles, 5)}" if roles else "")


RULE = Rule(
    id="rolesanywhere_trust_anchor_created",
    title="IAM Roles Anywhere trust anchor or profile created",
    severity="high",
    mitre=("T1098.001", "T1484.002"),
    why="A trust anchor makes every certificate its CA signs a way to get temporary credentials for the "
    "profile's roles, from anywhere, with no IAM user or key to find: persistence that survives revoking "
    "every key and session the agent had.",
    remediation="Disable and delete the trust anchor and profile (DisableTrustAnchor, DeleteTrustAnchor, "
    "DeleteProfile), remove rolesanywhere.amazonaws.com from the roles' trust policies, and revoke the "
    "roles' sessions.",
    match=_match,
    describe=_describe,
    events=_NAMES,
    tactic="persistence",
    positive=(
        record(
            "CreateTrustAnchor",
            "rolesanywhere.amazonaws.com",
            request={
                "name": "ops-ca",
                "source": {"sourceType": "CERTIFICATE_BUNDLE", "sourceData": {"x509CertificateData": "-----BEGIN…"}},
                "enabled": True,
            },
        ),
        record(
            "CreateProfile",
            "rolesanywhere.amazonaws.com",
            request={"name": "ops", "roleArns": ["arn:aws:iam::111111111111:role/ops-admin"], "enabled": True},
        ),
    ),
    negative=(
        record("ListTrustAnchors", "rolesanywhere.amazonaws.com", request={}, read_only=True),
        record("DisableTrustAnchor", "rolesanywhere.amazonaws.com", request={"trustAnchorId": "ta-1"}),
    ),
)
