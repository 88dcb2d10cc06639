"""A database read replica (or snapshot copy) created in a region other than its source's.

```yaml
id: rds_cross_region_replica
events: [CreateDBInstanceReadReplica, CopyDBSnapshot, CopyDBClusterSnapshot]
```
"""

from __future__ import annotations

from irkit.detect.event import Event
from irkit.detect.records import record
from irkit.detect.rule import Rule
from irkit.detect.rules._util import req

_SOURCE_KEYS = (
    "sourceDBInstanceIdentifier",
    "sourceDBSnapshotIdentifier",
    "sourceDBClusterSnapshotIdentifier",
)


def source_region(event: Event) -> str | None:
    """The source's region when the source is given as an ARN (cross-region calls must), else None."""
    explicit = req(event, "sourceRegion")
    if isinstance(explicit, str) and explicit:
        return explicit
    source = req(event, *_SOURCE_KEYS)
    if isinstance(source, str) and source.startswith("arn:") and source.count(":") >= 4:
        return source.split(":")[3]
    return None


def _match(event: Event) -> bool:
    region = source_region(event)
    return bool(region) and region != event.region


def _describe(event: Event) -> str:
    target = req(
        event, "dBInstanceIdentifier", "targetDBSnapshotIdentifier", "targetDBClusterSnapshotIdentifier"
    )
    return f"{event.event_name} {target} in {event.region} from {source_region(event)}"


RULE = Rule(
    id="rds_cross_region_replica",
    title="Database copied to another region",
    severity="high",
    mitre=("T1537", "T1578.002"),
    why="A replica in a region nobody watches is a quiet full copy of the data (the seed's 'database "
    "replica in a region you don't usually deploy to').",
    remediation="Delete the replica or copied snapshot in the foreign region; check who can reach it.",
    match=_match,
    describe=_describe,
    events=("CreateDBInstanceReadReplica", "CopyDBSnapshot", "CopyDBClusterSnapshot"),
    tactic="exfiltration",
    positive=(
        record(
            "CreateDBInstanceReadReplica",
            "rds.amazonaws.com",
            region="ap-southeast-1",
            request={
                "dBInstanceIdentifier": "orders-replica",
                "sourceDBInstanceIdentifier": "arn:aws:rds:us-east-1:111111111111:db:orders-prod",
                "dBInstanceClass": "db.r6g.large",
            },
        ),
    ),
    negative=(
        record(
            "CreateDBInstanceReadReplica",
            "rds.amazonaws.com",
            request={"dBInstanceIdentifier": "orders-replica-2", "sourceDBInstanceIdentifier": "orders-prod"},
        ),
    ),
)
