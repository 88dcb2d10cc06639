"""An RDS snapshot (or point in time) restored to a publicly accessible instance.

```yaml
id: rds_snapshot_restored_public
events: [RestoreDBInstanceFromDBSnapshot, RestoreDBInstanceToPointInTime, RestoreDBInstanceFromS3,
         CreateDBInstance]     # a cluster member: CreateDBInstance with publiclyAccessible
```
"""

from __future__ import annotations

from irkit.detect.event import Event
from irkit.detect.policy import truthy
from irkit.detect.records import record
from irkit.detect.rule import Rule
from irkit.detect.rules._util import req

_RESTORES = ("RestoreDBInstanceFromDBSnapshot", "RestoreDBInstanceToPointInTime", "RestoreDBInstanceFromS3")


def _match(event: Event) -> bool:
    if event.event_source != "rds.amazonaws.com" or not truthy(req(event, "publiclyAccessible")):
        return False
    if event.event_name in _RESTORES:
        return True
    # an instance added to a cluster restored from a snapshot
    return event.event_name == "CreateDBInstance" and bool(req(event, "dBClusterIdentifier"))


def _describe(event: Event) -> str:
    source = req(event, "dBSnapshotIdentifier", "sourceDBInstanceIdentifier", "s3BucketName", "dBClusterIdentifier")
    return f"{req(event, 'dBInstanceIdentifier')} restored public from {source}"


RULE = Rule(
    id="rds_snapshot_restored_public",
    title="RDS data restored to a public instance",
    severity="high",
    mitre=("T1578.002", "T1530"),
    why="Restoring a snapshot to a new, publicly accessible instance (with a master password the caller "
    "chooses) is how a database is copied out without touching the production instance or its logs.",
    remediation="Delete the restored instance (after a final snapshot for evidence) and review which "
    "snapshots the principal could read.",
    match=_match,
    describe=_describe,
    events=(*_RESTORES, "CreateDBInstance"),
    tactic="exfiltration",
    positive=(
        record(
            "RestoreDBInstanceFromDBSnapshot",
            "rds.amazonaws.com",
            request={
                "dBInstanceIdentifier": "orders-copy",
                "dBSnapshotIdentifier": "rds:orders-2026-11-24",
                "publiclyAccessible": True,
            },
        ),
        record(
            "RestoreDBInstanceToPointInTime",
            "rds.amazonaws.com",
            request={
                "sourceDBInstanceIdentifier": "orders",
                "targetDBInstanceIdentifier": "orders-pitr",
                "publiclyAccessible": "true",
            },
        ),
    ),
    negative=(
        record(
            "RestoreDBInstanceFromDBSnapshot",
            "rds.amazonaws.com",
            request={
                "dBInstanceIdentifier": "orders-dr",
                "dBSnapshotIdentifier": "rds:orders-2026-11-24",
                "publiclyAccessible": False,
            },
        ),
        record(
            "CreateDBInstance",
            "rds.amazonaws.com",
            request={"dBInstanceIdentifier": "reports", "publiclyAccessible": True, "engine": "postgres"},
        ),
    ),
)
