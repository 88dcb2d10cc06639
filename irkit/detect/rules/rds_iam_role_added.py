"""An IAM role associated with an RDS instance or cluster (S3 import/export, Lambda, other features).

```yaml
id: rds_iam_role_added
events: [AddRoleToDBInstance, AddRoleToDBCluster]
```
"""

from __future__ import annotations

from irkit.detect.event import Event
from irkit.detect.records import record
from irkit.detect.rule import Rule
from irkit.detect.rules._util import req

_NAMES = ("AddRoleToDBInstance", "AddRoleToDBCluster")


def _match(event: Event) -> bool:
    return event.event_source == "rds.amazonaws.com" and event.event_name in _NAMES


def _describe(event: Event) -> str:
    feature = req(event, "featureName")
    return (
        f"role {str(req(event, 'roleArn')).rsplit('/', 1)[-1]} added to "
        f"{req(event, 'dBInstanceIdentifier', 'dBClusterIdentifier')}" + (f" for {feature}" if feature else "")
    )


RULE = Rule(
    id="rds_iam_role_added",
    title="IAM role added to an RDS database",
    severity="medium",
    mitre=("T1098.003", "T1537"),
    why="A role on the database lets SQL itself reach AWS (aws_s3.query_export_to_s3, SELECT INTO OUTFILE "
    "S3, invoking Lambda): a path to copy tables out that no IAM call of the attacker's shows later.",
    remediation="Remove the role (RemoveRoleFromDBInstance/Cluster) unless the owners added it on purpose, "
    "and check the role's S3 destinations.",
    match=_match,
    describe=_describe,
    events=_NAMES,
    tactic="exfiltration",
    positive=(
        record(
            "AddRoleToDBInstance",
            "rds.amazonaws.com",
            request={
                "dBInstanceIdentifier": "orders",
                "roleArn": "arn:aws:iam::111111111111:role/rds-s3-export",
                "featureName": "s3Export",
            },
        ),
    ),
    negative=(
        record(
            "RemoveRoleFromDBInstance",
            "rds.amazonaws.com",
            request={
                "dBInstanceIdentifier": "orders",
                "roleArn": "arn:aws:iam::111111111111:role/rds-s3-export",
                "featureName": "s3Export",
            },
        ),
    ),
)
