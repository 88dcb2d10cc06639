"""S3 buckets: before-images from earlier events on the same bucket."""

from __future__ import annotations

from irkit.detect.event import Event
from irkit.revert.model import Change, make_change, text

GONE = ("NoSuchBucket",)
ALL_BLOCKED = {
    "BlockPublicAcls": True,
    "IgnorePublicAcls": True,
    "BlockPublicPolicy": True,
    "RestrictPublicBuckets": True,
}


def bucket_change(event: Event, what: str) -> Change | None:
    bucket = text(event.request.get("bucketName"))
    if not bucket:
        return None
    return make_change(
        event,
        resource=f"s3://{bucket} {what}".strip(),
        key=f"s3:bucket:{bucket}",
        params={"bucket": bucket},
        match=[[bucket]],
    )


def pab_config(raw: object) -> dict[str, bool] | None:
    """A PublicAccessBlockConfiguration as CloudTrail logs it (XML turned JSON, values may be strings)."""
    if not isinstance(raw, dict):
        return None
    out = {}
    for key in ALL_BLOCKED:
        value = raw.get(key)
        if value is None:
            return None
        out[key] = value is True or str(value).lower() == "true"
    return out
