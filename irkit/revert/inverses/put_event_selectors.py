"""PutEventSelectors → the selectors an earlier event in the window set, else the safe default (every
management event, read and write), marked "not an exact undo"; in the trail's home region."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from irkit.detect.event import Event
from irkit.revert.calls import read
from irkit.revert.inverses import _trail
from irkit.revert.inverses._record import record
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

SAFE_DEFAULT = [{"ReadWriteType": "All", "IncludeManagementEvents": True}]


def boto_shape(value: Any) -> Any:
    """CloudTrail logs its own API's parameters in lowerCamelCase; the API takes UpperCamelCase keys."""
    if isinstance(value, Mapping):
        return {k[:1].upper() + k[1:]: boto_shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [boto_shape(v) for v in value]
    return value


class PutEventSelectors(Inverse):
    event = "PutEventSelectors"
    service = "cloudtrail"
    reversibility = Reversibility.BEFORE_IMAGE
    permissions = ("cloudtrail:DescribeTrails", "cloudtrail:GetEventSelectors", "cloudtrail:PutEventSelectors")
    before_events = frozenset({"PutEventSelectors"})
    example = record(
        "cloudtrail",
        "PutEventSelectors",
        {"trailName": "org-trail", "eventSelectors": [{"readWriteType": "ReadOnly", "includeManagementEvents": False}]},
    )

    def change(self, event: Event) -> Change | None:
        name = text(event.request.get("trailName"))
        if not name:
            return None
        return make_change(
            event,
            resource=f"trail {name} event selectors",
            key=f"cloudtrail:trail:{last_segment(name)}",
            params={"trail": name},
        )

    def _before(self, change: Change, ctx: PlanContext) -> tuple[list[Any], str, bool]:
        for event in ctx.earlier(change, self.before_events):
            selectors = event.request.get("eventSelectors")
            if isinstance(selectors, list) and selectors:
                return boto_shape(selectors), f"earlier event {event.event_id}", True
        return SAFE_DEFAULT, "safe default: every management event, read and write", False

    def _current(self, change: Change, ctx: PlanContext) -> tuple[list[Any] | None, str, str]:
        t = _trail.trail(change, ctx)
        if t is None:
            return None, "", ""
        arn, home = str(t["TrailARN"]), str(t.get("HomeRegion") or change.region)
        got = read(ctx.client, "cloudtrail:GetEventSelectors", home, arn, missing=_trail.NOT_FOUND, TrailName=arn)
        return list((got or {}).get("EventSelectors") or []), arn, home

    def plan(self, change: Change, ctx: PlanContext) -> Undo:
        before, source, exact = self._before(change, ctx)
        current, arn, home = self._current(change, ctx)
        if current is None:
            return Undo(status="not reversible", notes=("the trail no longer exists",))
        notes = () if exact else ("not an exact undo: the selectors before the window are unknown",)
        if _covers(current, before):
            return Undo(
                status="nothing to do", before=before, before_source=source, notes=("selectors already restored",)
            )
        call = Call(
            "cloudtrail:PutEventSelectors",
            home,
            {"TrailName": arn, "EventSelectors": before},
            f"restore event selectors in {home}",
        )
        return Undo((call,), exact=exact, before=before, before_source=source, notes=notes)

    def verify(self, change: Change, ctx: PlanContext) -> Verdict:
        before, _, _ = self._before(change, ctx)
        current, _, _ = self._current(change, ctx)
        if current is None:
            return present("the trail no longer exists")
        return undone("event selectors restored") if _covers(current, before) else present(f"selectors are {current}")

    def snapshot(self, change: Change, ctx: PlanContext) -> Mapping[str, Any]:
        return {"event_selectors": self._current(change, ctx)[0]}


def _covers(current: list[Any], wanted: list[Any]) -> bool:
    def key(sel: Any) -> tuple[str, bool]:
        return (str(sel.get("ReadWriteType", "All")), bool(sel.get("IncludeManagementEvents", True)))

    return sorted(map(key, current)) == sorted(map(key, wanted))


INVERSE = PutEventSelectors()
