"""ScheduleKeyDeletion → CancelKeyDeletion, first of all (the deletion window expires), then EnableKey:
a cancelled key is left Disabled; it is enabled again unless the window shows it was disabled
before (an earlier DisableKey), and the plan says the before-state is assumed."""

from __future__ import annotations

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
    make_change,
    present,
    text,
    undone,
)

GONE = ("NotFoundException",)


class ScheduleKeyDeletion(Inverse):
    event = "ScheduleKeyDeletion"
    service = "kms"
    reversibility = Reversibility.TIME_BOXED
    permissions = ("kms:DescribeKey", "kms:CancelKeyDeletion", "kms:EnableKey")
    before_events = frozenset({"DisableKey", "EnableKey"})
    example = record(
        "kms",
        "ScheduleKeyDeletion",
        {"keyId": "1234abcd-12ab-34cd-56ef-1234567890ab", "pendingWindowInDays": 7},
        {
            "keyId": f"arn:aws:kms:us-east-1:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab",
            "deletionDate": "Dec 2, 2026 12:00:00 AM",
            "keyState": "PendingDeletion",
            "pendingWindowInDays": 7,
        },
    )

    def change(self, event: Event) -> Change | None:
        key = text(event.response.get("keyId")) or text(event.request.get("keyId"))
        if not key:
            return None
        return make_change(
            event,
            resource=f"KMS key {key}",
            key=f"kms:key:{last_segment(key)}",
            params={"key": key},
            match=[[last_segment(key)]],
        )

    def _state(self, change: Change, ctx: PlanContext) -> str | None:
        got = read(
            ctx.client, "kms:DescribeKey", change.region, change.resource, missing=GONE, KeyId=change.params["key"]
        )
        return None if got is None else str(got.get("KeyMetadata", {}).get("KeyState"))

    def plan(self, change: Change, ctx: PlanContext) -> Undo:
        state = self._state(change, ctx)
        if state is None:
            return Undo(status="not reversible", notes=("the key no longer exists: its deletion window has passed",))
        if state != "PendingDeletion":
            return Undo(status="nothing to do", notes=(f"the key is {state}, not pending deletion",))
        key, r = change.params["key"], change.region
        calls = [Call("kms:CancelKeyDeletion", r, {"KeyId": key}, "cancel the scheduled deletion", GONE)]
        earlier = ctx.earlier(change, self.before_events)
        if earlier and earlier[0].event_name == "DisableKey":
            return Undo(
                tuple(calls),
                before="Disabled",
                before_source=f"earlier event {earlier[0].event_id}",
                notes=("the key was disabled before the deletion was scheduled: it stays disabled",),
            )
        calls.append(Call("kms:EnableKey", r, {"KeyId": key}, "enable the key again", GONE))
        return Undo(
            tuple(calls),
            exact=False,
            before="Enabled",
            before_source="assumed: no DisableKey in the window",
            notes=("not an exact undo: the key is assumed to have been enabled before",),
        )

    def verify(self, change: Change, ctx: PlanContext) -> Verdict:
        state = self._state(change, ctx)
        if state is None:
            return present("the key no longer exists")
        return present("the key is still pending deletion") if state == "PendingDeletion" else undone(f"key {state}")


INVERSE = ScheduleKeyDeletion()
