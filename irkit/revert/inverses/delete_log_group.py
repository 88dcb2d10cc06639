"""DeleteLogGroup: not reversible (the plan and the report name the loss)."""

from __future__ import annotations

from irkit.revert.inverses._loss import Loss
from irkit.revert.inverses._record import record


class DeleteLogGroup(Loss):
    event = "DeleteLogGroup"
    service = "logs"
    fields = ("logGroupName",)
    lost = "the log group and every event in it are gone: nothing brings them back"
    example = record("logs", "DeleteLogGroup", {"logGroupName": "/aws/lambda/orders-api"})


INVERSE = DeleteLogGroup()
