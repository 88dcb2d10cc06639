"""PutBucketAcl → the canned ACL an earlier event in the window set, else ``private`` (exact when the
bucket was created in the window; otherwise "not an exact undo"). Verified: no grant to everyone."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from irkit.detect.event import Event
from irkit.revert.calls import read
from irkit.revert.inverses._record import record
from irkit.revert.inverses._s3 import GONE, bucket_change
from irkit.revert.model import Call, Change, Inverse, PlanContext, Reversibility, Undo, Verdict, present, undone

_PUBLIC = (
    "http://acs.amazonaws.com/groups/global/AllUsers",
    "http://acs.amazonaws.com/groups/global/AuthenticatedUsers",
)
_CANNED = frozenset(
    {
        "private",
        "public-read",
        "public-read-write",
        "authenticated-read",
        "log-delivery-write",
        "bucket-owner-read",
        "bucket-owner-full-control",
        "aws-exec-read",
    }
)


def canned(request: Mapping[str, Any]) -> str | None:
    raw = request.get("x-amz-acl")
    value = raw[0] if isinstance(raw, list) and raw else raw
    return str(value) if isinstance(value, str) and value in _CANNED else None


class PutBucketAcl(Inverse):
    event = "PutBucketAcl"
    service = "s3"
    reversibility = Reversibility.BEFORE_IMAGE
    permissions = ("s3:GetBucketAcl", "s3:PutBucketAcl")
    before_events = frozenset({"PutBucketAcl", "CreateBucket"})
    example = record(
        "s3",
        "PutBucketAcl",
        {
            "bucketName": "app-assets-prod",
            "acl": [""],
            "x-amz-acl": ["public-read"],
            "Host": "app-assets-prod.s3.amazonaws.com",
        },
    )

    def change(self, event: Event) -> Change | None:
        return bucket_change(event, "ACL")

    def _before(self, change: Change, ctx: PlanContext) -> tuple[str, str, bool]:
        for event in ctx.earlier(change, self.before_events):
            acl = canned(event.request)
            if acl:
                return acl, f"earlier event {event.event_id}", True
            if event.event_name == "CreateBucket":
                return "private", f"the bucket was created in the window ({event.event_id})", True
        return "private", "safe default: private", False

    def _public(self, change: Change, ctx: PlanContext) -> list[str] | None:
        got = read(
            ctx.client, "s3:GetBucketAcl", change.region, change.resource, missing=GONE, Bucket=change.params["bucket"]
        )
        if got is None:
            return None
        return [str(g["Permission"]) for g in got.get("Grants") or [] if g.get("Grantee", {}).get("URI") in _PUBLIC]

    def plan(self, change: Change, ctx: PlanContext) -> Undo:
        acl, source, exact = self._before(change, ctx)
        if self._public(change, ctx) is None:
            return Undo(status="nothing to do", notes=("the bucket no longer exists",))
        call = Call(
            "s3:PutBucketAcl", change.region, {"Bucket": change.params["bucket"], "ACL": acl}, f"ACL → {acl}", GONE
        )
        notes = () if exact else ("not an exact undo: the ACL before the window is unknown",)
        return Undo((call,), exact=exact, before=acl, before_source=source, notes=notes)

    def verify(self, change: Change, ctx: PlanContext) -> Verdict:
        acl, _, _ = self._before(change, ctx)
        public = self._public(change, ctx)
        if public is None:
            return undone("the bucket no longer exists")
        if public and acl == "private":
            return present(f"still granted to everyone: {', '.join(public)}")
        return undone(f"ACL {acl}")


INVERSE = PutBucketAcl()
