"""PutBucketPolicy → the policy an earlier event in the window set (or no policy, when the bucket was
created or its policy deleted in the window); else the policy is deleted, "not an exact undo"."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from irkit.detect.event import Event
from irkit.revert.calls import read
from irkit.revert.inverses._record import OUTSIDE, record
from irkit.revert.inverses._s3 import GONE, bucket_change
from irkit.revert.model import (
    Call,
    Change,
    Inverse,
    PlanContext,
    Reversibility,
    Undo,
    Verdict,
    document,
    present,
    undone,
)

_NO_POLICY = ("NoSuchBucketPolicy", *GONE)
_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{OUTSIDE}:root"},
            "Action": "s3:GetObject",
            "Resource": "arn:aws:s3:::app-assets-prod/*",
        }
    ],
}


class PutBucketPolicy(Inverse):
    event = "PutBucketPolicy"
    service = "s3"
    reversibility = Reversibility.BEFORE_IMAGE
    permissions = ("s3:GetBucketPolicy", "s3:PutBucketPolicy", "s3:DeleteBucketPolicy")
    before_events = frozenset({"PutBucketPolicy", "DeleteBucketPolicy", "CreateBucket"})
    example = record(
        "s3",
        "PutBucketPolicy",
        {
            "bucketName": "app-assets-prod",
            "bucketPolicy": _POLICY,
            "policy": [""],
            "Host": "app-assets-prod.s3.amazonaws.com",
        },
    )

    def change(self, event: Event) -> Change | None:
        return bucket_change(event, "bucket policy")

    def _before(self, change: Change, ctx: PlanContext) -> tuple[Any, str, bool]:
        for event in ctx.earlier(change, self.before_events):
            if event.event_name == "PutBucketPolicy":
                doc = document(event.request.get("bucketPolicy"))
                if doc is not None:
                    return doc, f"earlier event {event.event_id}", True
                continue
            return None, f"no policy after earlier event {event.event_name} {event.event_id}", True
        return None, "unknown (no earlier event in the window): the policy is removed", False

    def _current(self, change: Change, ctx: PlanContext) -> Any:
        got = read(
            ctx.client,
            "s3:GetBucketPolicy",
            change.region,
            change.resource,
            missing=_NO_POLICY,
            Bucket=change.params["bucket"],
        )
        return None if got is None else document(got.get("Policy"))

    def plan(self, change: Change, ctx: PlanContext) -> Undo:
        before, source, exact = self._before(change, ctx)
        if self._current(change, ctx) == before:
            return Undo(status="nothing to do", before=before, before_source=source)
        bucket = change.params["bucket"]
        if before is None:
            call = Call("s3:DeleteBucketPolicy", change.region, {"Bucket": bucket}, "delete the bucket policy", GONE)
        else:
            call = Call(
                "s3:PutBucketPolicy",
                change.region,
                {"Bucket": bucket, "Policy": json.dumps(before)},
                "restore the earlier bucket policy",
                GONE,
            )
        notes = () if exact else ("not an exact undo: the bucket's policy before the window is unknown",)
        return Undo((call,), exact=exact, before=before, before_source=source, notes=notes)

    def verify(self, change: Change, ctx: PlanContext) -> Verdict:
        before, _, _ = self._before(change, ctx)
        if self._current(change, ctx) == before:
            return undone("bucket policy restored" if before is not None else "no bucket policy")
        return present("the bucket policy differs from its before-image")

    def snapshot(self, change: Change, ctx: PlanContext) -> Mapping[str, Any]:
        return {"policy": self._current(change, ctx)}


INVERSE = PutBucketPolicy()
