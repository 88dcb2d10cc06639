"""DeleteBucket: not reversible (the plan and the report name the loss)."""

from __future__ import annotations

from irkit.revert.inverses._loss import Loss
from irkit.revert.inverses._record import record


class DeleteBucket(Loss):
    event = "DeleteBucket"
    service = "s3"
    fields = ("bucketName",)
    lost = "the bucket is gone (it was empty: S3 deletes only empty buckets); its objects were deleted before"
    example = record(
        "s3", "DeleteBucket", {"bucketName": "app-assets-prod", "Host": "app-assets-prod.s3.amazonaws.com"}
    )


INVERSE = DeleteBucket()
