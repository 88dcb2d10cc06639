"""ModifyDBInstance (``publiclyAccessible: true``) → the instance private again. Only that flag is
undone: other settings the same call changed are named, not touched. The before-image is an earlier
event in the window that set the flag; without one the instance is made private, "not an exact undo"."""

from __future__ import annotations

from irkit.detect.event import Event
from irkit.revert.calls import read
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

GONE = ("DBInstanceNotFound", "DBInstanceNotFoundFault")


class ModifyDBInstance(Inverse):
    event = "ModifyDBInstance"
    service = "rds"
    reversibility = Reversibility.BEFORE_IMAGE
    permissions = ("rds:DescribeDBInstances", "rds:ModifyDBInstance")
    before_events = frozenset({"ModifyDBInstance", "CreateDBInstance"})
    example = record(
        "rds",
        "ModifyDBInstance",
        {"dBInstanceIdentifier": "orders-db", "publiclyAccessible": True, "applyImmediately": True},
        {"dBInstanceIdentifier": "orders-db", "publiclyAccessible": True, "dBInstanceStatus": "available"},
    )

    def change(self, event: Event) -> Change | None:
        db = text(event.request.get("dBInstanceIdentifier"))
        if not db or event.request.get("publiclyAccessible") is not True:
            return None  # only making a database public is undone; other modifications are not this inverse's
        others = sorted(k for k in event.request if k not in ("dBInstanceIdentifier", "publiclyAccessible"))
        return make_change(
            event,
            resource=f"RDS instance {db} made publicly accessible",
            key=f"rds:db-public:{last_segment(db)}",
            params={"db": db, "others": others},
            match=[[db]],
        )

    def _before(self, change: Change, ctx: PlanContext) -> tuple[bool, bool]:
        """(publicly accessible before, known from an earlier event)."""
        for event in ctx.earlier(change, self.before_events):
            flag = event.request.get("publiclyAccessible")
            if isinstance(flag, bool):
                return flag, True
        return False, False

    def _public(self, change: Change, ctx: PlanContext) -> bool | None:
        got = read(
            ctx.client,
            "rds:DescribeDBInstances",
            change.region,
            change.resource,
            missing=GONE,
            DBInstanceIdentifier=change.params["db"],
        )
        rows = (got or {}).get("DBInstances") or []
        return bool(rows[0].get("PubliclyAccessible")) if rows else None

    def plan(self, change: Change, ctx: PlanContext) -> Undo:
        before, known = self._before(change, ctx)
        public = self._public(change, ctx)
        if public is None:
            return Undo(status="nothing to do", notes=("the instance no longer exists",))
        if public == before:
            return Undo(status="nothing to do", before={"PubliclyAccessible": before})
        notes = [] if known else ["not an exact undo: the instance's setting before the window is unknown"]
        if change.params.get("others"):
            notes.append(f"the same call also changed {', '.join(change.params['others'])}: review by hand")
        call = Call(
            "rds:ModifyDBInstance",
            change.region,
            {"DBInstanceIdentifier": change.params["db"], "PubliclyAccessible": before, "ApplyImmediately": True},
            "make the instance private again" if not before else "restore the earlier setting",
            GONE,
        )
        return Undo((call,), exact=known, before={"PubliclyAccessible": before}, notes=tuple(notes))

    def verify(self, change: Change, ctx: PlanContext) -> Verdict:
        before, _ = self._before(change, ctx)
        public = self._public(change, ctx)
        if public is None:
            return undone("the instance no longer exists")
        if public == before:
            return undone("not publicly accessible" if not public else "publicly accessible, as before the window")
        return present("still publicly accessible")


INVERSE = ModifyDBInstance()
