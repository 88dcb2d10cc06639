"""CreateAccessKey → that key Inactive, never deleted (a key is evidence: its last use, its owner).
Already inactive or deleted is nothing to do."""

from __future__ import annotations

from irkit.detect.event import Event
from irkit.revert.calls import pages
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
    get,
    make_change,
    present,
    text,
    undone,
)


class CreateAccessKey(Inverse):
    event = "CreateAccessKey"
    service = "iam"
    reversibility = Reversibility.EXACT
    permissions = ("iam:GetUser", "iam:ListAccessKeys", "iam:UpdateAccessKey")
    cancelled_by = frozenset({"DeleteAccessKey"})
    example = record(
        "iam",
        "CreateAccessKey",
        {"userName": "agent-infra-bot"},
        {
            "accessKey": {
                "userName": "agent-infra-bot",
                "accessKeyId": "AKIAXAMPLESECONDKEY1",
                "status": "Active",
                "createDate": "Nov 25, 2026 8:53:41 PM",
            }
        },
    )

    def change(self, event: Event) -> Change | None:
        key = text(get(event.response, "accessKey", "accessKeyId"))
        user = text(get(event.response, "accessKey", "userName")) or text(event.request.get("userName"))
        user = user or caller_user(event)
        if not key or not user:
            return None
        return make_change(
            event,
            resource=f"access key {key} of user {user}",
            key=f"iam:access-key:{key}",
            params={"user": user, "key_id": key},
            match=[[key]],
            owner=f"iam:user:{user}",
        )

    def _status(self, change: Change, ctx: PlanContext) -> str | None:
        user = str(change.params["user"])
        if not _iam.user_exists(ctx, change, user):
            return None
        keys = pages(
            ctx.client,
            "iam:ListAccessKeys",
            _iam.region(change, ctx),
            change.resource,
            "AccessKeyMetadata",
            UserName=user,
        )
        return next((str(k["Status"]) for k in keys if k["AccessKeyId"] == change.params["key_id"]), None)

    def plan(self, change: Change, ctx: PlanContext) -> Undo:
        status = self._status(change, ctx)
        if status is None:
            return Undo(status="nothing to do", notes=("the key no longer exists",))
        if status == "Inactive":
            return Undo(status="nothing to do", notes=("the key is already inactive",))
        args = {"UserName": change.params["user"], "AccessKeyId": change.params["key_id"], "Status": "Inactive"}
        return Undo(
            (Call("iam:UpdateAccessKey", _iam.region(change, ctx), args, "→ Inactive (kept as evidence)", _iam.GONE),)
        )

    def verify(self, change: Change, ctx: PlanContext) -> Verdict:
        status = self._status(change, ctx)
        if status is None:
            return undone("key deleted")
        return undone("key inactive") if status == "Inactive" else present(f"key is {status}")


INVERSE = CreateAccessKey()
