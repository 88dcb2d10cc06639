"""RDS snapshots or automated backups deleted, or automated backups turned off (retention 0).

```yaml
id: rds_backup_deleted
events: [DeleteDBSnapshot, DeleteDBClusterSnapshot, DeleteDBInstanceAutomatedBackup,
         DeleteDBClusterAutomatedBackup, ModifyDBInstance, ModifyDBCluster]
```
"""

from __future__ import annotations

from irkit.detect.event import Event
from irkit.detect.records import record
from irkit.detect.rule import Rule
from irkit.detect.rules._util import req

_DELETES = (
    "DeleteDBSnapshot",
    "DeleteDBClusterSnapshot",
    "DeleteDBInstanceAutomatedBackup",
    "DeleteDBClusterAutomatedBackup",
)
_MODIFIES = ("ModifyDBInstance", "ModifyDBCluster")


def _match(event: Event) -> bool:
    if event.event_source != "rds.amazonaws.com":
        return False
    if event.event_name in _DELETES:
        return True
    return event.event_name in _MODIFIES and str(req(event, "backupRetentionPeriod")) == "0"


def _describe(event: Event) -> str:
    if event.event_name in _MODIFIES:
        return f"automated backups of {req(event, 'dBInstanceIdentifier', 'dBClusterIdentifier')} turned off"
    target = req(
        event,
        "dBSnapshotIdentifier",
        "dBClusterSnapshotIdentifier",
        "dbiResourceId",
        "dBInstanceAutomatedBackupsArn",
        "dbClusterResourceId",
    )
    return f"{event.event_name} {target}"


RULE = Rule(
    id="rds_backup_deleted",
    title="RDS backups deleted or disabled",
    severity="high",
    mitre=("T1490",),
    why="Deleting snapshots and automated backups (or setting retention to 0, which deletes them) removes "
    "the way back before the data itself is destroyed or held to ransom.",
    remediation="Set the backup retention again, copy the remaining snapshots to a locked-down account, and "
    "check for deletions of the instances themselves.",
    match=_match,
    describe=_describe,
    events=(*_DELETES, *_MODIFIES),
    tactic="impact",
    positive=(
        record("DeleteDBSnapshot", "rds.amazonaws.com", request={"dBSnapshotIdentifier": "orders-weekly-2026-11-22"}),
        record(
            "DeleteDBInstanceAutomatedBackup", "rds.amazonaws.com", request={"dbiResourceId": "db-ABCDEFGHIJKLMNOP"}
        ),
        record(
            "ModifyDBInstance",
            "rds.amazonaws.com",
            request={"dBInstanceIdentifier": "orders", "backupRetentionPeriod": 0},
        ),
    ),
    negative=(
        record(
            "ModifyDBInstance",
            "rds.amazonaws.com",
            request={"dBInstanceIdentifier": "orders", "backupRetentionPeriod": 14},
        ),
        record("CreateDBSnapshot", "rds.amazonaws.com", request={"dBSnapshotIdentifier": "orders-pre-upgrade"}),
    ),
)
