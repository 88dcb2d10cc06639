"""An opt-in AWS region enabled for the account.

```yaml
id: account_region_enabled
events: [EnableRegion]
```
"""

from __future__ import annotations

from irkit.detect.event import Event
from irkit.detect.records import record
from irkit.detect.rule import Rule
from irkit.detect.rules._util import req


def _match(event: Event) -> bool:
    return event.event_source == "account.amazonaws.com" and event.event_name == "EnableRegion"


def _describe(event: Event) -> str:
    return f"region {req(event, 'regionName', 'RegionName')} enabled"


RULE = Rule(
    id="account_region_enabled",
    title="Opt-in region enabled",
    severity="medium",
    mitre=("T1535",),
    why="Opt-in regions are off until someone turns them on; enabling one is how an attacker gets a region "
    "nobody watches (no trail selectors, no GuardDuty detector, no alarms there yet) to run resources in.",
    remediation="Disable the region (DisableRegion) if the owners did not ask for it, after checking for "
    "resources launched there.",
    match=_match,
    describe=_describe,
    events=("EnableRegion",),
    tactic="defense-evasion",
    positive=(record("EnableRegion", "account.amazonaws.com", request={"regionName": "ap-east-1"}),),
    negative=(record("ListRegions", "account.amazonaws.com", request={}, read_only=True),),
)
