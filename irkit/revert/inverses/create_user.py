"""CreateUser → the user disarmed, not deleted: access keys Inactive first (kept: they are evidence),
then the console password, MFA devices, groups and policies removed (containment's own session deny
stays), tagged ``irkit:quarantine``. Deleting the user would destroy its keys: a human decides that."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from irkit.detect.event import Event
from irkit.revert.inverses import _iam
from irkit.revert.inverses._record import ACCOUNT, record
from irkit.revert.model import (
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


class CreateUser(Inverse):
    event = "CreateUser"
    service = "iam"
    reversibility = Reversibility.DESTRUCTIVE
    permissions = (
        *_iam.USER_READS,
        "iam:UpdateAccessKey",
        "iam:DeleteLoginProfile",
        "iam:DeactivateMFADevice",
        "iam:RemoveUserFromGroup",
        "iam:DetachUserPolicy",
        "iam:DeleteUserPolicy",
        "iam:TagUser",
    )
    covers = True
    cancelled_by = frozenset({"DeleteUser"})
    example = record(
        "iam",
        "CreateUser",
        {"userName": "svc-backup-sync"},
        {
            "user": {
                "path": "/",
                "userName": "svc-backup-sync",
                "userId": "AIDAXAMPLEBACKDOOR01",
                "arn": f"arn:aws:iam::{ACCOUNT}:user/svc-backup-sync",
                "createDate": "Nov 25, 2026 8:52:24 PM",
            }
        },
    )

    def change(self, event: Event) -> Change | None:
        name = text(event.request.get("userName"))
        if not name:
            return None
        account = str(event.raw.get("recipientAccountId") or event.account_id)
        path = text(event.request.get("path")) or "/"
        arn = text(get(event.response, "user", "arn")) or f"arn:aws:iam::{account}:user{path}{name}"
        return make_change(event, resource=arn, key=f"iam:user:{name}", params={"user": name}, match=[[arn]])

    def plan(self, change: Change, ctx: PlanContext) -> Undo:
        user = str(change.params["user"])
        if not _iam.user_exists(ctx, change, user):
            return Undo(status="nothing to do", notes=("the user no longer exists",))
        return Undo(
            tuple(_iam.user_teardown(ctx, change, user)),
            notes=("the user is kept, disarmed: its access keys are evidence; delete it after the investigation",),
        )

    def verify(self, change: Change, ctx: PlanContext) -> Verdict:
        user = str(change.params["user"])
        if not _iam.user_exists(ctx, change, user):
            return undone("user deleted")
        left = _iam.user_left(ctx, change, user)
        if left:
            return present("the user still has " + ", ".join(left))
        return undone("user disarmed: keys inactive (kept), no console password, MFA, group or policy")

    def snapshot(self, change: Change, ctx: PlanContext) -> Mapping[str, Any]:
        user = str(change.params["user"])
        if not _iam.user_exists(ctx, change, user):
            return {}
        return {
            "attached_policies": _iam.attached_user(ctx, change, user),
            "inline_policies": _iam.inline_user(ctx, change, user),
            "armed_with": _iam.user_left(ctx, change, user),
        }


INVERSE = CreateUser()
