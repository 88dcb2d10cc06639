"""Security Hub disabled, or its standards switched off.

```yaml
id: securityhub_disabled
events: [DisableSecurityHub, BatchDisableStandards, DisableImportFindingsForProduct]
```
"""

from __future__ import annotations

from irkit.detect.event import Event
from irkit.detect.records import record
from irkit.detect.rule import Rule

_NAMES = ("DisableSecurityHub", "BatchDisableStandards", "DisableImportFindingsForProduct")


def _match(event: Event) -> bool:
    return event.event_source == "securityhub.amazonaws.com" and event.event_name in _NAMES


RULE = Rule(
    id="securityhub_disabled",
    title="Security Hub disabled",
    severity="high",
    mitre=("T1562.001",),
    why="Security Hub aggregates the account's security findings; disabling it removes the signal.",
    remediation="Re-enable Security Hub and its standards (EnableSecurityHub, BatchEnableStandards).",
    match=_match,
    events=_NAMES,
    tactic="defense-evasion",
    positive=(record("DisableSecurityHub", "securityhub.amazonaws.com", request={}),),
    negative=(record("GetFindings", "securityhub.amazonaws.com", request={}, read_only=True),),
)
