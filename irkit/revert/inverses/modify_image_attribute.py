"""ModifyImageAttribute (launchPermission add) → the outside accounts (and "all") removed."""

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

GONE = ("InvalidAMIID.NotFound", "InvalidAMIID.Unavailable")


class ModifyImageAttribute(Inverse):
    event = "ModifyImageAttribute"
    service = "ec2"
    reversibility = Reversibility.EXACT
    permissions = ("ec2:DescribeImageAttribute", "ec2:ModifyImageAttribute")
    example = record(
        "ec2",
        "ModifyImageAttribute",
        {
            "imageId": "ami-0123456789abcdef0",
            "attributeType": "launchPermission",
            "launchPermission": {"add": {"items": [{"userId": OUTSIDE}]}},
        },
    )

    def change(self, event: Event) -> Change | None:
        image = text(event.request.get("imageId"))
        account = str(event.raw.get("recipientAccountId") or event.account_id)
        users, public = added(event.request, "launchPermission", account)
        if not image or not (users or public):
            return None
        shared = ", ".join(users + (["all (public)"] if public else []))
        return make_change(
            event,
            resource=f"AMI {image} shared with {shared}",
            key=f"ec2:image:{image}",
            params={"image": image, "users": users, "public": public},
            match=[[image]],
        )

    def _shared(self, change: Change, ctx: PlanContext) -> tuple[list[str], bool] | None:
        got = read(
            ctx.client,
            "ec2:DescribeImageAttribute",
            change.region,
            change.resource,
            missing=GONE,
            ImageId=change.params["image"],
            Attribute="launchPermission",
        )
        if got is None:
            return None
        perms = got.get("LaunchPermissions") or []
        users = [str(p["UserId"]) for p in perms if p.get("UserId") in change.params["users"]]
        return users, bool(change.params["public"]) and any(p.get("Group") == "all" for p in perms)

    def plan(self, change: Change, ctx: PlanContext) -> Undo:
        shared = self._shared(change, ctx)
        if shared is None or not (shared[0] or shared[1]):
            return Undo(status="nothing to do", notes=("no longer shared (or the image is gone)",))
        users, public = shared
        remove = [{"UserId": u} for u in users] + ([{"Group": "all"}] if public else [])
        args = {"ImageId": change.params["image"], "LaunchPermission": {"Remove": remove}}
        return Undo((Call("ec2:ModifyImageAttribute", change.region, args, "stop sharing", GONE),))

    def verify(self, change: Change, ctx: PlanContext) -> Verdict:
        shared = self._shared(change, ctx)
        if shared is None:
            return undone("the image no longer exists")
        users, public = shared
        if users or public:
            return present(f"still shared with {', '.join(users + (['all'] if public else []))}")
        return undone("no longer shared outside the account")


INVERSE = ModifyImageAttribute()
