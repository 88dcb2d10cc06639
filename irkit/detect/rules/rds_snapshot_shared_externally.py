"""An RDS (cluster) snapshot shared with another account or made public (``all``).

```yaml
id: rds_snapshot_shared_externally
events: [ModifyDBSnapshotAttribute, ModifyDBClusterSnapshotAttribute]
```
"""

from __future__ import annotations

from irkit.detect.event import Event
from irkit.detect.policy import as_list
from irkit.detect.records import record
from irkit.detect.rule import Rule
from irkit.detect.rules._util import own_account, req


def _added(event: Event) -> list[str]:
    if str(req(event, "attributeName") or "").lower() != "restore":
        return []
    return [str(v) for v in as_list(req(event, "valuesToAdd")) if str(v) != own_account(event)]


def _match(event: Event) -> bool:
    return bool(_added(event))


def _describe(event: Event) -> str:
    snap = req(event, "dBSnapshotIdentifier", "dBClusterSnapshotIdentifier")
    return f"RDS snapshot {snap} shared with {', '.join(_added(event))}"


RULE = Rule(
    id="rds_snapshot_shared_externally",
    title="RDS snapshot shared outside the account",
    severity="critical",
    mitre=("T1537",),
    why="A shared database snapshot can be restored in the other account: the whole database leaves.",
    remediation="ModifyDBSnapshotAttribute with valuesToRemove; check for copies in the other account.",
    match=_match,
    describe=_describe,
    events=("ModifyDBSnapshotAttribute", "ModifyDBClusterSnapshotAttribute"),
    tactic="exfiltration",
    positive=(
        record(
            "ModifyDBSnapshotAttribute",
            "rds.amazonaws.com",
            request={
                "dBSnapshotIdentifier": "orders-nightly",
                "attributeName": "restore",
                "valuesToAdd": ["all"],
            },
        ),
        record(
            "ModifyDBClusterSnapshotAttribute",
            "rds.amazonaws.com",
            request={
                "dBClusterSnapshotIdentifier": "orders-aurora-nightly",
                "attributeName": "restore",
                "valuesToAdd": ["999999999999"],
            },
        ),
    ),
    negative=(
        record(
            "ModifyDBSnapshotAttribute",
            "rds.amazonaws.com",
            request={
                "dBSnapshotIdentifier": "orders-nightly",
                "attributeName": "restore",
                "valuesToRemove": ["all"],
            },
        ),
    ),
)
