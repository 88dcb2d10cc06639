"""A bucket made public: a policy allowing ``*`` without a narrowing condition, or a public ACL.

```yaml
id: s3_bucket_public
events: [PutBucketPolicy, PutBucketAcl, CreateBucket]
```
"""

from __future__ import annotations

from collections.abc import Mapping

from irkit.detect.event import Event
from irkit.detect.policy import as_list, load_document, public_statements
from irkit.detect.records import record
from irkit.detect.rule import Rule
from irkit.detect.rules._util import req, sub

PUBLIC_GROUPS = ("/global/AllUsers", "/global/AuthenticatedUsers")
PUBLIC_CANNED = frozenset({"public-read", "public-read-write", "authenticated-read"})


def _public_acl(event: Event) -> bool:
    canned = req(event, "x-amz-acl")
    if any(str(v) in PUBLIC_CANNED for v in as_list(canned)):
        return True
    for header in (
        "x-amz-grant-read",
        "x-amz-grant-write",
        "x-amz-grant-full-control",
        "x-amz-grant-read-acp",
    ):
        if any(g in str(v) for v in as_list(req(event, header)) for g in PUBLIC_GROUPS):
            return True
    acl = sub(req(event, "AccessControlPolicy"), "AccessControlList")
    for grant in as_list(sub(acl, "Grant")):
        grantee = sub(grant, "Grantee")
        uri = str(sub(grantee, "URI") or "")
        if any(uri.endswith(g) for g in PUBLIC_GROUPS):
            return True
    return False


def _match(event: Event) -> bool:
    if event.event_name == "PutBucketPolicy":
        return bool(public_statements(load_document(req(event, "bucketPolicy", "policy"))))
    return event.event_name in ("PutBucketAcl", "CreateBucket") and _public_acl(event)


def _describe(event: Event) -> str:
    how = "public bucket policy" if event.event_name == "PutBucketPolicy" else "public ACL"
    return f"{how} on s3://{req(event, 'bucketName')}"


def _policy(principal: object, condition: Mapping[str, object] | None = None) -> dict[str, object]:
    stmt: dict[str, object] = {
        "Sid": "s",
        "Effect": "Allow",
        "Principal": principal,
        "Action": "s3:GetObject",
        "Resource": "arn:aws:s3:::customer-exports/*",
    }
    if condition:
        stmt["Condition"] = condition
    return {"Version": "2012-10-17", "Statement": [stmt]}


RULE = Rule(
    id="s3_bucket_public",
    title="S3 bucket made public",
    severity="critical",
    mitre=("T1530", "T1537"),
    why="A public bucket is the most common cloud data leak; the seed lists 'creating a public S3 "
    "bucket' as an immediate alert.",
    remediation="Remove the public statement or grant, turn Block Public Access back on, and check the "
    "S3 access logs for reads while it was open.",
    match=_match,
    describe=_describe,
    events=("PutBucketPolicy", "PutBucketAcl", "CreateBucket"),
    tactic="exposure",
    positive=(
        record(
            "PutBucketPolicy",
            "s3.amazonaws.com",
            request={
                "bucketName": "customer-exports",
                "bucketPolicy": _policy("*"),
                "Host": "customer-exports.s3.amazonaws.com",
                "policy": "",
            },
        ),
        record(
            "PutBucketAcl",
            "s3.amazonaws.com",
            request={
                "bucketName": "customer-exports",
                "acl": "",
                "AccessControlPolicy": {
                    "AccessControlList": {
                        "Grant": [
                            {
                                "Grantee": {
                                    "xsi:type": "Group",
                                    "URI": "http://acs.amazonaws.com/groups/global/AllUsers",
                                },
                                "Permission": "READ",
                            }
                        ]
                    },
                    "Owner": {"ID": "a1b2c3"},
                },
            },
        ),
        record(
            "PutBucketAcl",
            "s3.amazonaws.com",
            request={"bucketName": "b", "acl": "", "x-amz-acl": ["public-read"]},
        ),
    ),
    negative=(
        record(
            "PutBucketPolicy",
            "s3.amazonaws.com",
            request={
                "bucketName": "customer-exports",
                "bucketPolicy": _policy("*", {"StringEquals": {"aws:SourceVpce": "vpce-1a2b3c4d"}}),
                "policy": "",
            },
        ),
        record(
            "PutBucketPolicy",
            "s3.amazonaws.com",
            request={
                "bucketName": "customer-exports",
                "bucketPolicy": _policy({"AWS": "arn:aws:iam::111111111111:role/app"}),
                "policy": "",
            },
        ),
        record(
            "PutBucketAcl",
            "s3.amazonaws.com",
            request={"bucketName": "b", "acl": "", "x-amz-acl": ["private"]},
        ),
    ),
)
