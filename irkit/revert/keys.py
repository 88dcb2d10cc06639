"""One identity per resource across CloudTrail events: ``iam:role:NAME``, ``s3:bucket:NAME``, …

The same function names the resource of an attacker's change and of every earlier event, so a
before-image (an earlier ``PutBucketPolicy`` on the same bucket) and a create→delete chain (a
``CreateAccessKey`` then ``DeleteAccessKey`` of that key) are found by equality.
"""

from __future__ import annotations

from irkit.detect.event import Event
from irkit.revert.model import get, text


def last_segment(value: str) -> str:
    """``arn:aws:cloudtrail:…:trail/org-trail`` → ``org-trail``; a plain name stays itself."""
    return value.rsplit("/", 1)[-1] if value.startswith("arn:") else value


def caller_user(event: Event) -> str:
    """The IAM user an event acted as, when a call without ``userName`` applies to its caller."""
    return event.principal_arn.rsplit("/", 1)[-1] if ":user/" in event.principal_arn else ""


def event_key(event: Event) -> str | None:
    req = event.request
    service = event.service
    if service == "iam":
        key_id = text(req.get("accessKeyId")) or text(get(event.response, "accessKey", "accessKeyId"))
        if key_id:
            return f"iam:access-key:{key_id}"
        role, user = text(req.get("roleName")), text(req.get("userName"))
        if event.event_name in ("CreateLoginProfile", "DeleteLoginProfile", "UpdateLoginProfile"):
            return f"iam:user:{user or caller_user(event)}:login-profile"
        base = f"iam:role:{role}" if role else f"iam:user:{user}" if user else ""
        if not base:
            return None
        if req.get("policyName"):
            return f"{base}:policy:{text(req.get('policyName'))}"
        if req.get("policyArn"):
            return f"{base}:attached:{text(req.get('policyArn'))}"
        return base
    if service == "s3":
        bucket = text(req.get("bucketName"))
        return f"s3:bucket:{bucket}" if bucket else None
    if service == "cloudtrail":
        name = text(req.get("trailName")) or text(req.get("name"))
        return f"cloudtrail:trail:{last_segment(name)}" if name else None
    if service == "ec2":
        for field, kind in (("groupId", "sg"), ("snapshotId", "snapshot"), ("imageId", "image")):
            if req.get(field):
                return f"ec2:{kind}:{text(req.get(field))}"
        return None
    if service == "kms":
        key = text(req.get("keyId")) or text(event.response.get("keyId"))
        return f"kms:key:{last_segment(key)}" if key else None
    if service == "secretsmanager":
        secret = text(req.get("secretId"))
        return f"secretsmanager:{secret}" if secret else None
    if service == "rds":
        db = text(req.get("dBInstanceIdentifier"))
        return f"rds:db:{last_segment(db)}" if db else None
    return None
