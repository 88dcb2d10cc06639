"""StopLogging → StartLogging in the trail's home region (an organization or multi-region trail is
started where it lives, whichever region the attacker called)."""

from __future__ import annotations

from irkit.detect.event import Event
from irkit.revert.calls import read
from irkit.revert.inverses import _trail
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
    make_change,
    present,
    text,
    undone,
)


class StopLogging(Inverse):
    event = "StopLogging"
    service = "cloudtrail"
    reversibility = Reversibility.EXACT
    permissions = ("cloudtrail:DescribeTrails", "cloudtrail:GetTrailStatus", "cloudtrail:StartLogging")
    example = record("cloudtrail", "StopLogging", {"name": f"arn:aws:cloudtrail:us-east-1:{ACCOUNT}:trail/org-trail"})

    def change(self, event: Event) -> Change | None:
        name = text(event.request.get("name"))
        if not name:
            return None
        return make_change(
            event,
            resource=f"trail {name}",
            key=f"cloudtrail:trail:{last_segment(name)}",
            params={"trail": name},
            match=[[last_segment(name)]],
        )

    def _logging(self, change: Change, ctx: PlanContext) -> tuple[bool | None, str, str]:
        t = _trail.trail(change, ctx)
        if t is None:
            return None, "", ""
        arn, home = str(t["TrailARN"]), str(t.get("HomeRegion") or change.region)
        status = read(ctx.client, "cloudtrail:GetTrailStatus", home, arn, missing=_trail.NOT_FOUND, Name=arn)
        return (None if status is None else bool(status.get("IsLogging"))), arn, home

    def plan(self, change: Change, ctx: PlanContext) -> Undo:
        logging, arn, home = self._logging(change, ctx)
        if logging is None:
            return Undo(status="not reversible", notes=("the trail no longer exists (deleted?): recreate it by hand",))
        if logging:
            return Undo(status="nothing to do", notes=("the trail is logging again",))
        return Undo((Call("cloudtrail:StartLogging", home, {"Name": arn}, f"start logging in {home}"),))

    def verify(self, change: Change, ctx: PlanContext) -> Verdict:
        logging, _, home = self._logging(change, ctx)
        if logging is None:
            return present("the trail no longer exists")
        return undone(f"logging (GetTrailStatus in {home})") if logging else present("the trail is not logging")


INVERSE = StopLogging()
