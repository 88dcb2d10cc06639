"""GuardDuty deleted, disabled, detached, or its findings auto-archived.

```yaml
id: guardduty_tampering
events: [DeleteDetector, UpdateDetector, DisassociateFromMasterAccount, CreateFilter, UpdateFilter]
```
"""

from __future__ import annotations

from irkit.detect.event import Event
from irkit.detect.policy import falsy
from irkit.detect.records import record
from irkit.detect.rule import Rule
from irkit.detect.rules._util import req

_ALWAYS = (
    "DeleteDetector",
    "DisassociateFromMasterAccount",
    "DisassociateFromAdministratorAccount",
    "StopMonitoringMembers",
    "DeleteMembers",
    "DeletePublishingDestination",
)


def _match(event: Event) -> bool:
    if event.event_source != "guardduty.amazonaws.com":
        return False
    if event.event_name in _ALWAYS:
        return True
    if event.event_name == "UpdateDetector":
        return falsy(req(event, "enable"))
    if event.event_name in ("CreateFilter", "UpdateFilter"):
        return str(req(event, "action") or "").upper() == "ARCHIVE"
    return False


def _describe(event: Event) -> str:
    return f"{event.event_name} on detector {req(event, 'detectorId')}"


RULE = Rule(
    id="guardduty_tampering",
    title="GuardDuty disabled, deleted or suppressed",
    severity="critical",
    mitre=("T1562.001",),
    why="GuardDuty is often what pages the responder; disabling it or auto-archiving its findings "
    "silences the alarm.",
    remediation="Re-enable or recreate the detector, delete the archive filter, re-associate the "
    "administrator account.",
    match=_match,
    describe=_describe,
    events=(*_ALWAYS, "UpdateDetector", "CreateFilter", "UpdateFilter"),
    tactic="defense-evasion",
    positive=(
        record(
            "DeleteDetector",
            "guardduty.amazonaws.com",
            request={"detectorId": "12abc34d567e8fa901bc2d34e56789f0"},
        ),
        record(
            "UpdateDetector",
            "guardduty.amazonaws.com",
            request={"detectorId": "12abc34d567e8fa901bc2d34e56789f0", "enable": False},
        ),
        record(
            "CreateFilter",
            "guardduty.amazonaws.com",
            request={
                "detectorId": "12abc34d567e8fa901bc2d34e56789f0",
                "name": "quiet",
                "action": "ARCHIVE",
                "findingCriteria": {"criterion": {"severity": {"gte": 1}}},
            },
        ),
    ),
    negative=(
        record(
            "UpdateDetector",
            "guardduty.amazonaws.com",
            request={"detectorId": "12abc34d567e8fa901bc2d34e56789f0", "enable": True},
        ),
    ),
)
