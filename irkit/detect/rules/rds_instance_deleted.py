"""An RDS instance or cluster deleted.

```yaml
id: rds_instance_deleted
events: [DeleteDBInstance, DeleteDBCluster]
severity: high; critical without a final snapshot
```
"""

from __future__ import annotations

from irkit.detect.event import Event
from irkit.detect.policy import truthy
from irkit.detect.records import record
from irkit.detect.rule import Rule, Severity
from irkit.detect.rules._util import req

_NAMES = ("DeleteDBInstance", "DeleteDBCluster")


def _match(event: Event) -> bool:
    return event.event_source == "rds.amazonaws.com" and event.event_name in _NAMES


def _severity(event: Event) -> Severity:
    return "critical" if truthy(req(event, "skipFinalSnapshot")) else "high"


def _describe(event: Event) -> str:
    target = req(event, "dBInstanceIdentifier", "dBClusterIdentifier")
    final = "without a final snapshot" if truthy(req(event, "skipFinalSnapshot")) else "with a final snapshot"
    return f"{target} deleted {final}"


RULE = Rule(
    id="rds_instance_deleted",
    title="RDS database deleted",
    severity="high",
    severity_of=_severity,
    mitre=("T1485",),
    why="Deleting a database is destruction; without a final snapshot (and with its automated backups) "
    "it cannot be restored.",
    remediation="Restore from the final snapshot or the retained automated backups if any remain; check "
    "the principal's other deletions.",
    match=_match,
    describe=_describe,
    events=_NAMES,
    tactic="impact",
    positive=(
        record(
            "DeleteDBInstance",
            "rds.amazonaws.com",
            request={"dBInstanceIdentifier": "orders", "skipFinalSnapshot": True, "deleteAutomatedBackups": True},
        ),
        record(
            "DeleteDBCluster",
            "rds.amazonaws.com",
            request={"dBClusterIdentifier": "ledger", "skipFinalSnapshot": False},
        ),
    ),
    negative=(record("DescribeDBInstances", "rds.amazonaws.com", request={}, read_only=True),),
)
