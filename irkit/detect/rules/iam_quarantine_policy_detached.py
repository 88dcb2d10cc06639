"""AWS's compromised-key quarantine policy (``AWSCompromisedKeyQuarantine``, ``…V2``, ``…V3``) detached.

```yaml
id: iam_quarantine_policy_detached
events: [DetachUserPolicy, DetachRolePolicy, DetachGroupPolicy]
```
"""

from __future__ import annotations

from irkit.detect.event import Event
from irkit.detect.records import record
from irkit.detect.rule import Rule
from irkit.detect.rules._util import req

_NAMES = ("DetachUserPolicy", "DetachRolePolicy", "DetachGroupPolicy")


def _match(event: Event) -> bool:
    if event.event_source != "iam.amazonaws.com" or event.event_name not in _NAMES:
        return False
    arn = str(req(event, "policyArn") or "")
    return ":policy/" in arn and arn.rsplit("/", 1)[-1].startswith("AWSCompromisedKeyQuarantine")


def _describe(event: Event) -> str:
    target = req(event, "userName", "roleName", "groupName")
    return f"{str(req(event, 'policyArn')).rsplit('/', 1)[-1]} detached from {target}"


RULE = Rule(
    id="iam_quarantine_policy_detached",
    title="Compromised-key quarantine policy detached",
    severity="critical",
    mitre=("T1562.001", "T1098"),
    why="AWS attaches AWSCompromisedKeyQuarantine when it finds a user's key exposed publicly; it denies "
    "the actions attackers use first. Detaching it is someone with the leaked key (or a careless fix) "
    "lifting the quarantine before the key was rotated.",
    remediation="Re-attach the policy, deactivate and rotate the exposed key, then review the user's calls "
    "since the exposure.",
    match=_match,
    describe=_describe,
    events=_NAMES,
    tactic="defense-evasion",
    positive=(
        record(
            "DetachUserPolicy",
            "iam.amazonaws.com",
            request={
                "userName": "agent-infra-bot",
                "policyArn": "arn:aws:iam::aws:policy/AWSCompromisedKeyQuarantineV3",
            },
        ),
        record(
            "DetachUserPolicy",
            "iam.amazonaws.com",
            request={"userName": "ci-deployer", "policyArn": "arn:aws:iam::aws:policy/AWSCompromisedKeyQuarantine"},
        ),
    ),
    negative=(
        record(
            "DetachUserPolicy",
            "iam.amazonaws.com",
            request={"userName": "ci-deployer", "policyArn": "arn:aws:iam::aws:policy/ReadOnlyAccess"},
        ),
        record(
            "AttachUserPolicy",
            "iam.amazonaws.com",
            request={"userName": "ci-deployer", "policyArn": "arn:aws:iam::aws:policy/AWSCompromisedKeyQuarantineV2"},
        ),
    ),
)
