"""UpdateFunctionCode: not reversible from the record (it names no earlier code): a loss to redeploy."""

from __future__ import annotations

from irkit.revert.inverses._loss import Loss
from irkit.revert.inverses._record import record


class UpdateFunctionCode(Loss):
    event = "UpdateFunctionCode"
    service = "lambda"
    fields = ("functionName",)
    lost = "the function's earlier code is not in the record: redeploy it from your pipeline (or a published version)"
    example = record("lambda", "UpdateFunctionCode", {"functionName": "orders-api", "publish": False})


INVERSE = UpdateFunctionCode()
