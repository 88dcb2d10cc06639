"""CreateLoginProfile → DeleteLoginProfile (the create succeeds only when the user had no console
password, so removing it is exact)."""

from __future__ import annotations

from irkit.detect.event import Event
from irkit.revert.calls import read
from irkit.revert.inverses import _iam
from irkit.revert.inverses._record import record
from irkit.revert.keys import caller_user
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


class CreateLoginProfile(Inverse):
    event = "CreateLoginProfile"
    service = "iam"
    reversibility = Reversibility.EXACT
    permissions = ("iam:GetLoginProfile", "iam:DeleteLoginProfile")
    cancelled_by = frozenset({"DeleteLoginProfile"})
    example = record(
        "iam",
        "CreateLoginProfile",
        {"userName": "svc-backup-sync", "passwordResetRequired": False},
        {
            "loginProfile": {
                "userName": "svc-backup-sync",
                "createDate": "Nov 25, 2026 8:55:02 PM",
                "passwordResetRequired": False,
            }
        },
    )

    def change(self, event: Event) -> Change | None:
        user = text(event.request.get("userName")) or caller_user(event)
        if not user:
            return None
        return make_change(
            event,
            resource=f"console password of user {user}",
            key=f"iam:user:{user}:login-profile",
            params={"user": user},
            owner=f"iam:user:{user}",
        )

    def _exists(self, change: Change, ctx: PlanContext) -> bool:
        got = read(
            ctx.client,
            "iam:GetLoginProfile",
            _iam.region(change, ctx),
            change.resource,
            missing=_iam.GONE,
            UserName=change.params["user"],
        )
        return got is not None

    def plan(self, change: Change, ctx: PlanContext) -> Undo:
        if not self._exists(change, ctx):
            return Undo(status="nothing to do", notes=("the console password is already gone",))
        call = Call(
            "iam:DeleteLoginProfile",
            _iam.region(change, ctx),
            {"UserName": change.params["user"]},
            "delete console password",
            _iam.GONE,
        )
        return Undo((call,))

    def verify(self, change: Change, ctx: PlanContext) -> Verdict:
        return (
            present("console password still set") if self._exists(change, ctx) else undone("console password removed")
        )


INVERSE = CreateLoginProfile()
