"""Deletion protection turned off on an RDS instance or cluster.

```yaml
id: rds_deletion_protection_disabled
events: [ModifyDBInstance, ModifyDBCluster]
```
"""

from __future__ import annotations

from irkit.detect.event import Event
from irkit.detect.policy import falsy
from irkit.detect.records import record
from irkit.detect.rule import Rule
from irkit.detect.rules._util import req

_NAMES = ("ModifyDBInstance", "ModifyDBCluster")


def _match(event: Event) -> bool:
    return (
        event.event_source == "rds.amazonaws.com"
        and event.event_name in _NAMES
        and falsy(req(event, "deletionProtection"))
    )


def _describe(event: Event) -> str:
    return f"deletion protection off on {req(event, 'dBInstanceIdentifier', 'dBClusterIdentifier')}"


RULE = Rule(
    id="rds_deletion_protection_disabled",
    title="RDS deletion protection disabled",
    severity="high",
    mitre=("T1485",),
    why="Deletion protection is the one switch between a database and DeleteDBInstance; turning it off is "
    "the step before destruction or ransom (delete the database after copying it out).",
    remediation="Turn it back on (ModifyDBInstance/ModifyDBCluster --deletion-protection) and check for "
    "deletions, snapshot copies and shares by the same principal.",
    match=_match,
    describe=_describe,
    events=_NAMES,
    tactic="impact",
    positive=(
        record(
            "ModifyDBInstance",
            "rds.amazonaws.com",
            request={"dBInstanceIdentifier": "orders", "deletionProtection": False},
        ),
        record(
            "ModifyDBCluster",
            "rds.amazonaws.com",
            request={"dBClusterIdentifier": "ledger", "deletionProtection": "false"},
        ),
    ),
    negative=(
        record(
            "ModifyDBInstance",
            "rds.amazonaws.com",
            request={"dBInstanceIdentifier": "orders", "deletionProtection": True},
        ),
        record(
            "ModifyDBInstance",
            "rds.amazonaws.com",
            request={"dBInstanceIdentifier": "orders", "dBInstanceClass": "db.r6g.large"},
        ),
    ),
)
