"""DeleteBucketPublicAccessBlock → the block an earlier event in the window set, else all four
settings on (the safe default, "not an exact undo")."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from irkit.detect.event import Event
from irkit.revert.calls import read
from irkit.revert.inverses._record import record
from irkit.revert.inverses._s3 import ALL_BLOCKED, GONE, bucket_change, pab_config
from irkit.revert.model import Call, Change, Inverse, PlanContext, Reversibility, Undo, Verdict, present, undone

_MISSING = ("NoSuchPublicAccessBlockConfiguration", *GONE)


class DeleteBucketPublicAccessBlock(Inverse):
    event = "DeleteBucketPublicAccessBlock"
    service = "s3"
    reversibility = Reversibility.BEFORE_IMAGE
    permissions = ("s3:GetBucketPublicAccessBlock", "s3:PutBucketPublicAccessBlock")
    before_events = frozenset({"PutBucketPublicAccessBlock", "CreateBucket"})
    example = record(
        "s3",
        "DeleteBucketPublicAccessBlock",
        {"publicAccessBlock": "", "bucketName": "app-assets-prod", "Host": "app-assets-prod.s3.amazonaws.com"},
    )

    def change(self, event: Event) -> Change | None:
        return bucket_change(event, "public access block")

    def _before(self, change: Change, ctx: PlanContext) -> tuple[dict[str, bool], str, bool]:
        for event in ctx.earlier(change, frozenset({"PutBucketPublicAccessBlock"})):
            config = pab_config(event.request.get("PublicAccessBlockConfiguration"))
            if config is not None:
                return config, f"earlier event {event.event_id}", True
        return dict(ALL_BLOCKED), "safe default: every public access blocked", False

    def _current(self, change: Change, ctx: PlanContext) -> Mapping[str, Any] | None:
        got = read(
            ctx.client,
            "s3:GetPublicAccessBlock",
            change.region,
            change.resource,
            missing=_MISSING,
            Bucket=change.params["bucket"],
        )
        return None if got is None else dict(got.get("PublicAccessBlockConfiguration") or {})

    def plan(self, change: Change, ctx: PlanContext) -> Undo:
        before, source, exact = self._before(change, ctx)
        if self._current(change, ctx) == before:
            return Undo(status="nothing to do", before=before, before_source=source)
        call = Call(
            "s3:PutPublicAccessBlock",
            change.region,
            {"Bucket": change.params["bucket"], "PublicAccessBlockConfiguration": before},
            "restore the public access block",
            GONE,
        )
        notes = () if exact else ("not an exact undo: the block before the window is unknown",)
        return Undo((call,), exact=exact, before=before, before_source=source, notes=notes)

    def verify(self, change: Change, ctx: PlanContext) -> Verdict:
        before, _, _ = self._before(change, ctx)
        current = self._current(change, ctx)
        return undone("public access block restored") if current == before else present(f"block is {current}")


INVERSE = DeleteBucketPublicAccessBlock()
