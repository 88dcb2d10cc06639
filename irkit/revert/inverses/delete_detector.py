"""DeleteDetector: not reversible (the plan and the report name the loss)."""

from __future__ import annotations

from irkit.revert.inverses._loss import Loss
from irkit.revert.inverses._record import record


class DeleteDetector(Loss):
    event = "DeleteDetector"
    service = "guardduty"
    fields = ("detectorId",)
    lost = "the GuardDuty detector and its findings are gone: enable GuardDuty again by hand"
    example = record("guardduty", "DeleteDetector", {"detectorId": "12abc34d567e8fa901bc2d34e56789f0"})


INVERSE = DeleteDetector()
