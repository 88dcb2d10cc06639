"""DeleteTrail: not reversible (the plan and the report name the loss)."""

from __future__ import annotations

from irkit.revert.inverses._loss import Loss
from irkit.revert.inverses._record import record


class DeleteTrail(Loss):
    event = "DeleteTrail"
    service = "cloudtrail"
    fields = ("name",)
    lost = "the trail and its configuration are gone: create it again by hand (its delivered logs stay in the archive)"
    example = record("cloudtrail", "DeleteTrail", {"name": "org-trail"})


INVERSE = DeleteTrail()
