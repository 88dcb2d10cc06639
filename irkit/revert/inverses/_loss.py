"""Events whose damage no API call undoes: named in the plan and the report as "not reversible"."""

from __future__ import annotations

from typing import ClassVar

from irkit.detect.event import Event
from irkit.revert.keys import event_key
from irkit.revert.model import Change, Inverse, PlanContext, Reversibility, Undo, Verdict, make_change, text


class Loss(Inverse):
    reversibility = Reversibility.NOT_REVERSIBLE
    permissions = ()
    fields: ClassVar[tuple[str, ...]]
    """Request fields naming what was lost, first present wins."""
    lost: ClassVar[str]
    """What cannot be brought back, and what a human can do."""

    def change(self, event: Event) -> Change | None:
        name = next((text(event.request.get(f)) for f in self.fields if text(event.request.get(f))), "")
        if not name:
            raw = next((event.request.get(f) for f in self.fields if event.request.get(f)), None)
            name = str(raw) if raw else ""
        if not name:
            return None
        return make_change(
            event, resource=name, key=event_key(event) or f"{event.service}:{name}", params={"name": name}
        )

    def plan(self, change: Change, ctx: PlanContext) -> Undo:
        return Undo(status="not reversible", notes=(self.lost,))

    def verify(self, change: Change, ctx: PlanContext) -> Verdict:
        return Verdict("lost", self.lost)
