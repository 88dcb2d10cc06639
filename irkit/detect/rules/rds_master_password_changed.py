"""The master user password of an RDS instance or cluster changed.

```yaml
id: rds_master_password_changed
events: [ModifyDBInstance, ModifyDBCluster]
```
"""

from __future__ import annotations

from irkit.detect.event import Event
from irkit.detect.records import record
from irkit.detect.rule import Rule
from irkit.detect.rules._util import req

_NAMES = ("ModifyDBInstance", "ModifyDBCluster")


def _match(event: Event) -> bool:
    # CloudTrail masks the value; the key being present is the change
    return (
        event.event_source == "rds.amazonaws.com"
        and event.event_name in _NAMES
        and ("masterUserPassword" in event.request or "MasterUserPassword" in event.request)
    )


def _describe(event: Event) -> str:
    return f"master password of {req(event, 'dBInstanceIdentifier', 'dBClusterIdentifier')} changed"


RULE = Rule(
    id="rds_master_password_changed",
    title="RDS master password changed",
    severity="high",
    mitre=("T1098", "T1531"),
    why="Resetting the master password gives the caller full control of the data through the database "
    "itself, beyond IAM and CloudTrail, and locks the owners out.",
    remediation="Reset the password again (or move it to Secrets Manager with --manage-master-user-password), "
    "rotate what uses it, and review database logins since the change.",
    match=_match,
    describe=_describe,
    events=_NAMES,
    tactic="persistence",
    positive=(
        record(
            "ModifyDBInstance",
            "rds.amazonaws.com",
            request={"dBInstanceIdentifier": "orders", "masterUserPassword": "****", "applyImmediately": True},
        ),
    ),
    negative=(
        record(
            "ModifyDBInstance", "rds.amazonaws.com", request={"dBInstanceIdentifier": "orders", "allocatedStorage": 200}
        ),
    ),
)
