"""An RDS instance or cluster made publicly accessible.

```yaml
id: rds_instance_made_public
events: [ModifyDBInstance, CreateDBInstance, RestoreDBInstanceFromDBSnapshot, RestoreDBInstanceToPointInTime]
```
"""

from __future__ import annotations

from irkit.detect.event import Event
from irkit.detect.policy import truthy
from irkit.detect.records import record
from irkit.detect.rule import Rule
from irkit.detect.rules._util import req

_NAMES = (
    "ModifyDBInstance",
    "CreateDBInstance",
    "RestoreDBInstanceFromDBSnapshot",
    "RestoreDBInstanceToPointInTime",
    "CreateDBInstanceReadReplica",
)


def _match(event: Event) -> bool:
    return event.event_name in _NAMES and truthy(req(event, "publiclyAccessible"))


def _describe(event: Event) -> str:
    name = req(event, "dBInstanceIdentifier", "targetDBInstanceIdentifier")
    return f"{event.event_name} {name} with publiclyAccessible=true"


RULE = Rule(
    id="rds_instance_made_public",
    title="Database made publicly accessible",
    severity="high",
    mitre=("T1562.007", "T1530"),
    why="A public endpoint puts the database one password away from the internet (the seed's "
    "'publicly expose databases' recommendation).",
    remediation="ModifyDBInstance --no-publicly-accessible and review the security groups in front of it.",
    match=_match,
    describe=_describe,
    events=_NAMES,
    tactic="exposure",
    positive=(
        record(
            "ModifyDBInstance",
            "rds.amazonaws.com",
            request={
                "dBInstanceIdentifier": "orders-prod",
                "publiclyAccessible": True,
                "applyImmediately": True,
            },
        ),
    ),
    negative=(
        record(
            "ModifyDBInstance",
            "rds.amazonaws.com",
            request={"dBInstanceIdentifier": "orders-prod", "dBInstanceClass": "db.r6g.large"},
        ),
    ),
)
