"""The account leaves (or is removed from) its AWS Organization: every SCP and org trail falls away.

```yaml
id: organizations_leave
events: [LeaveOrganization, RemoveAccountFromOrganization]
```
"""

from __future__ import annotations

from irkit.detect.event import Event
from irkit.detect.records import record
from irkit.detect.rule import Rule


def _match(event: Event) -> bool:
    return event.event_name in ("LeaveOrganization", "RemoveAccountFromOrganization")


RULE = Rule(
    id="organizations_leave",
    title="Account left the AWS Organization",
    severity="critical",
    mitre=("T1562.001", "T1666"),
    why="Leaving the organisation drops its service control policies, guardrails and organisation "
    "trail at once.",
    remediation="Re-invite the account into the organisation and re-apply SCPs; check the org trail gap.",
    match=_match,
    events=("LeaveOrganization", "RemoveAccountFromOrganization"),
    tactic="defense-evasion",
    positive=(record("LeaveOrganization", "organizations.amazonaws.com", request=None),),
    negative=(record("DescribeOrganization", "organizations.amazonaws.com", request=None, read_only=True),),
)
