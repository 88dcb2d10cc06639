"""CreateDBInstanceReadReplica → a manual snapshot of the replica (evidence: what was copied where),
then the replica deleted, after approval like every call. Deletion protection is turned off first."""

from __future__ import annotations

import re

from irkit.detect.event import Event
from irkit.revert.calls import read
from irkit.revert.inverses._record import ACCOUNT, record
from irkit.revert.keys import last_segment
from irkit.revert.model import (
    Call,
    Change,
    Inverse,
    PlanContext,
    Reversibility,
    Undo,
    Verdict,
    get,
    make_change,
    present,
    text,
    undone,
)

GONE = ("DBInstanceNotFound", "DBInstanceNotFoundFault")


def snapshot_id(case_id: str, db: str) -> str:
    """A valid RDS snapshot identifier: a letter first, letters, digits and single hyphens, ≤ 255."""
    raw = re.sub(r"[^A-Za-z0-9]+", "-", f"irkit-{case_id}-{db}").strip("-")
    return re.sub(r"-{2,}", "-", raw)[:255].rstrip("-")


class CreateDBInstanceReadReplica(Inverse):
    event = "CreateDBInstanceReadReplica"
    service = "rds"
    reversibility = Reversibility.DESTRUCTIVE
    permissions = (
        "rds:DescribeDBInstances",
        "rds:DescribeDBSnapshots",
        "rds:ModifyDBInstance",
        "rds:CreateDBSnapshot",
        "rds:DeleteDBInstance",
    )
    cancelled_by = frozenset({"DeleteDBInstance"})
    example = record(
        "rds",
        "CreateDBInstanceReadReplica",
        {
            "dBInstanceIdentifier": "orders-db-replica",
            "sourceDBInstanceIdentifier": f"arn:aws:rds:us-east-1:{ACCOUNT}:db:orders-db",
            "publiclyAccessible": True,
            "sourceRegion": "us-east-1",
        },
        {
            "dBInstanceIdentifier": "orders-db-replica",
            "dBInstanceArn": f"arn:aws:rds:eu-west-1:{ACCOUNT}:db:orders-db-replica",
            "dBInstanceStatus": "creating",
            "publiclyAccessible": True,
        },
        region="eu-west-1",
    )

    def change(self, event: Event) -> Change | None:
        db = text(event.request.get("dBInstanceIdentifier"))
        if not db:
            return None
        arn = text(event.response.get("dBInstanceArn")) or db
        return make_change(
            event,
            resource=f"RDS read replica {arn}",
            key=f"rds:db:{last_segment(db)}",
            params={"db": db},
            match=[[arn], [db]],
        )

    def _instance(self, change: Change, ctx: PlanContext) -> dict[str, object] | None:
        got = read(
            ctx.client,
            "rds:DescribeDBInstances",
            change.region,
            change.resource,
            missing=GONE,
            DBInstanceIdentifier=change.params["db"],
        )
        rows = (got or {}).get("DBInstances") or []
        return dict(rows[0]) if rows else None

    def plan(self, change: Change, ctx: PlanContext) -> Undo:
        instance = self._instance(change, ctx)
        if instance is None or instance.get("DBInstanceStatus") == "deleting":
            return Undo(status="nothing to do", notes=("the replica no longer exists",))
        db, r = str(change.params["db"]), change.region
        snap = snapshot_id(ctx.case_id, db)
        calls = []
        if instance.get("DeletionProtection"):
            calls.append(
                Call(
                    "rds:ModifyDBInstance",
                    r,
                    {"DBInstanceIdentifier": db, "DeletionProtection": False, "ApplyImmediately": True},
                    "turn off deletion protection",
                    GONE,
                )
            )
        calls.append(
            Call(
                "rds:CreateDBSnapshot",
                r,
                {"DBSnapshotIdentifier": snap, "DBInstanceIdentifier": db},
                f"snapshot {snap} (evidence)",
                ("DBSnapshotAlreadyExists",),
                wait="db_snapshot_available",
                wait_args={"DBSnapshotIdentifier": snap},
            )
        )
        calls.append(
            Call(
                "rds:DeleteDBInstance",
                r,
                {"DBInstanceIdentifier": db, "SkipFinalSnapshot": True},
                "delete the replica",
                GONE,
            )
        )
        return Undo(tuple(calls), notes=(f"snapshotted as {snap} in {r} before it is deleted",))

    def verify(self, change: Change, ctx: PlanContext) -> Verdict:
        instance = self._instance(change, ctx)
        if instance is None:
            return undone("replica deleted")
        status = str(get(instance, "DBInstanceStatus"))
        return undone("replica deleting") if status == "deleting" else present(f"replica is {status}")


INVERSE = CreateDBInstanceReadReplica()
