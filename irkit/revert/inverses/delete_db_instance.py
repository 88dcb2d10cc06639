"""DeleteDBInstance: not reversible (the plan and the report name the loss)."""

from __future__ import annotations

from irkit.revert.inverses._loss import Loss
from irkit.revert.inverses._record import record


class DeleteDBInstance(Loss):
    event = "DeleteDBInstance"
    service = "rds"
    fields = ("dBInstanceIdentifier",)
    lost = "the database instance is gone: restore it from its final snapshot, if one was taken"
    example = record("rds", "DeleteDBInstance", {"dBInstanceIdentifier": "orders-db", "skipFinalSnapshot": True})


INVERSE = DeleteDBInstance()
