"""ModifySnapshotAttribute (createVolumePermission add) → the outside accounts (and "all") removed."""

from __future__ import annotations

from irkit.detect.event import Event
from irkit.revert.calls import read
from irkit.revert.inverses._record import OUTSIDE, record
from irkit.revert.inverses._share import added
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

GONE = ("InvalidSnapshot.NotFound",)


class ModifySnapshotAttribute(Inverse):
    event = "ModifySnapshotAttribute"
    service = "ec2"
    reversibility = Reversibility.EXACT
    permissions = ("ec2:DescribeSnapshotAttribute", "ec2:ModifySnapshotAttribute")
    example = record(
        "ec2",
        "ModifySnapshotAttribute",
        {
            "snapshotId": "snap-0123456789abcdef0",
            "attributeType": "CREATE_VOLUME_PERMISSION",
            "createVolumePermission": {"add": {"items": [{"userId": OUTSIDE}]}},
        },
    )

    def change(self, event: Event) -> Change | None:
        snapshot = text(event.request.get("snapshotId"))
        account = str(event.raw.get("recipientAccountId") or event.account_id)
        users, public = added(event.request, "createVolumePermission", account)
        if not snapshot or not (users or public):
            return None
        shared = ", ".join(users + (["all (public)"] if public else []))
        return make_change(
            event,
            resource=f"snapshot {snapshot} shared with {shared}",
            key=f"ec2:snapshot:{snapshot}",
            params={"snapshot": snapshot, "users": users, "public": public},
            match=[[snapshot]],
        )

    def _shared(self, change: Change, ctx: PlanContext) -> tuple[list[str], bool] | None:
        got = read(
            ctx.client,
            "ec2:DescribeSnapshotAttribute",
            change.region,
            change.resource,
            missing=GONE,
            SnapshotId=change.params["snapshot"],
            Attribute="createVolumePermission",
        )
        if got is None:
            return None
        perms = got.get("CreateVolumePermissions") or []
        users = [str(p["UserId"]) for p in perms if p.get("UserId") in change.params["users"]]
        return users, bool(change.params["public"]) and any(p.get("Group") == "all" for p in perms)

    def plan(self, change: Change, ctx: PlanContext) -> Undo:
        shared = self._shared(change, ctx)
        if shared is None or not (shared[0] or shared[1]):
            return Undo(status="nothing to do", notes=("no longer shared (or the snapshot is gone)",))
        users, public = shared
        args: dict[str, object] = {
            "SnapshotId": change.params["snapshot"],
            "Attribute": "createVolumePermission",
            "OperationType": "remove",
        }
        if users:
            args["UserIds"] = users
        if public:
            args["GroupNames"] = ["all"]
        return Undo((Call("ec2:ModifySnapshotAttribute", change.region, args, "stop sharing", GONE),))

    def verify(self, change: Change, ctx: PlanContext) -> Verdict:
        shared = self._shared(change, ctx)
        if shared is None:
            return undone("the snapshot no longer exists")
        users, public = shared
        if users or public:
            return present(f"still shared with {', '.join(users + (['all'] if public else []))}")
        return undone("no longer shared outside the account")


INVERSE = ModifySnapshotAttribute()
