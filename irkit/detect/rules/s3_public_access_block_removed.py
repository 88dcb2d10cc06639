"""S3 Block Public Access removed or weakened, on a bucket or the whole account.

```yaml
id: s3_public_access_block_removed
events: [DeletePublicAccessBlock, PutPublicAccessBlock,
         DeleteAccountPublicAccessBlock, PutAccountPublicAccessBlock]
```
"""

from __future__ import annotations

from irkit.detect.event import Event
from irkit.detect.policy import falsy
from irkit.detect.records import record
from irkit.detect.rule import Rule
from irkit.detect.rules._util import req

_SETTINGS = ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")


def _weakened(event: Event) -> list[str]:
    config = req(event, "PublicAccessBlockConfiguration", "publicAccessBlockConfiguration")
    if not hasattr(config, "get"):
        return []
    return [name for name in _SETTINGS if falsy(config.get(name, config.get(name[0].lower() + name[1:])))]


def _match(event: Event) -> bool:
    if event.event_name in ("DeletePublicAccessBlock", "DeleteAccountPublicAccessBlock"):
        return True
    return event.event_name in ("PutPublicAccessBlock", "PutAccountPublicAccessBlock") and bool(
        _weakened(event)
    )


def _describe(event: Event) -> str:
    where = f"s3://{req(event, 'bucketName')}" if req(event, "bucketName") else "the account"
    if event.event_name.startswith("Delete"):
        return f"Block Public Access deleted on {where}"
    return f"Block Public Access on {where}: {', '.join(_weakened(event))} set false"


RULE = Rule(
    id="s3_public_access_block_removed",
    title="S3 Block Public Access removed",
    severity="high",
    mitre=("T1562.007", "T1530"),
    why="Block Public Access is the guardrail that stops a public policy or ACL; removing it is the "
    "step before exposing data.",
    remediation="PutPublicAccessBlock with all four settings true; then look for public policies/ACLs.",
    match=_match,
    describe=_describe,
    events=(
        "DeletePublicAccessBlock",
        "PutPublicAccessBlock",
        "DeleteAccountPublicAccessBlock",
        "PutAccountPublicAccessBlock",
    ),
    tactic="exposure",
    positive=(
        record(
            "DeletePublicAccessBlock",
            "s3.amazonaws.com",
            request={"bucketName": "customer-exports", "publicAccessBlock": ""},
        ),
        record(
            "PutPublicAccessBlock",
            "s3.amazonaws.com",
            request={
                "bucketName": "customer-exports",
                "publicAccessBlock": "",
                "PublicAccessBlockConfiguration": {
                    "xmlns": "http://s3.amazonaws.com/doc/2006-03-01/",
                    "BlockPublicAcls": True,
                    "IgnorePublicAcls": True,
                    "BlockPublicPolicy": False,
                    "RestrictPublicBuckets": False,
                },
            },
        ),
    ),
    negative=(
        record(
            "PutPublicAccessBlock",
            "s3.amazonaws.com",
            request={
                "bucketName": "customer-exports",
                "publicAccessBlock": "",
                "PublicAccessBlockConfiguration": {
                    "BlockPublicAcls": True,
                    "IgnorePublicAcls": True,
                    "BlockPublicPolicy": True,
                    "RestrictPublicBuckets": True,
                },
            },
        ),
    ),
)
