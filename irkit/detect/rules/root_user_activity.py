"""Any call made by the account's root user.

```yaml
id: root_user_activity
events: ["*"]          # every event: the identity, not the call, is what matters
identities: [Root]     # run only on the root user's calls (its match checks the type too)
```
"""

from __future__ import annotations

from collections.abc import Mapping

from irkit.detect.event import Event
from irkit.detect.records import record
from irkit.detect.rule import Rule
from irkit.detect.rules.console_login_without_mfa import ROOT_IDENTITY


def _match(event: Event) -> bool:
    if event.identity_type != "Root":
        return False
    identity = event.raw.get("userIdentity")
    invoked_by = identity.get("invokedBy") if isinstance(identity, Mapping) else None
    # an AWS service acting with the root identity (and service events) is not someone holding root
    return not invoked_by and event.raw.get("eventType") != "AwsServiceEvent"


def _describe(event: Event) -> str:
    return f"root user called {event.action} from {event.source_ip}"


RULE = Rule(
    id="root_user_activity",
    title="Root user activity",
    severity="high",
    mitre=("T1078.004",),
    why="The root user is unrestricted by IAM: no policy, permission boundary or session revocation "
    "contains it. Accounts should not use it day to day, so any call with it is a responder's first "
    "question — and stolen root credentials cannot be contained by irkit's IAM actions.",
    remediation="Confirm with the account owner; if unexpected, reset the root password, delete root "
    "access keys, register MFA, and review every call made as root.",
    match=_match,
    describe=_describe,
    events=(),
    identities=("Root",),
    tactic="privilege-escalation",
    positive=(
        record("CreateAccessKey", "iam.amazonaws.com", identity=ROOT_IDENTITY, request={}),
        record("ListBuckets", "s3.amazonaws.com", identity=ROOT_IDENTITY, request={}, read_only=True),
    ),
    negative=(
        record("ListBuckets", "s3.amazonaws.com", request={}, read_only=True),
        record(
            "CreateServiceLinkedRole",
            "iam.amazonaws.com",
            identity={**ROOT_IDENTITY, "invokedBy": "organizations.amazonaws.com"},
            request={"aWSServiceName": "guardduty.amazonaws.com"},
        ),
    ),
)
