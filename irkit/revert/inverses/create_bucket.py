"""CreateBucket → public access blocked on the attacker's bucket (all four settings); the bucket and
its objects are kept: what it holds is evidence of what was taken. Deleting it is a human's call."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from irkit.detect.event import Event
from irkit.errors import AwsCallError
from irkit.revert.calls import read
from irkit.revert.inverses._record import record
from irkit.revert.inverses._s3 import ALL_BLOCKED, GONE, bucket_change
from irkit.revert.model import Call, Change, Inverse, PlanContext, Reversibility, Undo, Verdict, present, undone

_MISSING = ("NoSuchPublicAccessBlockConfiguration",)


class CreateBucket(Inverse):
    event = "CreateBucket"
    service = "s3"
    reversibility = Reversibility.DESTRUCTIVE
    permissions = ("s3:GetBucketPublicAccessBlock", "s3:PutBucketPublicAccessBlock")
    cancelled_by = frozenset({"DeleteBucket"})
    example = record(
        "s3", "CreateBucket", {"bucketName": "tmp-export-7f3a91", "Host": "tmp-export-7f3a91.s3.amazonaws.com"}
    )

    def change(self, event: Event) -> Change | None:
        return bucket_change(event, "")

    def _state(self, change: Change, ctx: PlanContext) -> Mapping[str, Any] | None:
        """The bucket's public access block ({} when it has none), or None when the bucket is gone.
        GetPublicAccessBlock tells both: no s3:ListBucket needed, nothing of the bucket's content read."""
        try:
            got = read(
                ctx.client,
                "s3:GetPublicAccessBlock",
                change.region,
                change.resource,
                missing=_MISSING,
                Bucket=change.params["bucket"],
            )
        except AwsCallError as exc:
            if exc.code in GONE:
                return None
            raise
        return {} if got is None else dict(got.get("PublicAccessBlockConfiguration") or {})

    def plan(self, change: Change, ctx: PlanContext) -> Undo:
        state = self._state(change, ctx)
        if state is None:
            return Undo(status="nothing to do", notes=("the bucket no longer exists",))
        if state == ALL_BLOCKED:
            return Undo(status="nothing to do", notes=("public access is already blocked",))
        call = Call(
            "s3:PutPublicAccessBlock",
            change.region,
            {"Bucket": change.params["bucket"], "PublicAccessBlockConfiguration": dict(ALL_BLOCKED)},
            "block all public access",
            GONE,
        )
        return Undo((call,), notes=("the bucket and its objects are kept (evidence of what was taken)",))

    def verify(self, change: Change, ctx: PlanContext) -> Verdict:
        block = self._state(change, ctx)
        if block is None:
            return undone("the bucket no longer exists")
        return (
            undone("kept, public access blocked")
            if block == ALL_BLOCKED
            else present(f"public access block is {block}")
        )


INVERSE = CreateBucket()
