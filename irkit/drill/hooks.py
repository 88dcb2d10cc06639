"""What a scenario's YAML cannot say, in Python: a scenario names one of :data:`HOOKS` with ``hook:``.

A hook gets the world, the step's time and its ``with:`` mapping (variables filled in). It acts through
the world's recorder like any call, so the logs and the simulator's state still agree.
"""

from __future__ import annotations

import gzip
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

import orjson

from irkit.drill.iac import PORT
from irkit.drill.world import ARCHIVE_BUCKET, HOME_REGION, World

Hook = Callable[[World, datetime, Mapping[str, Any]], None]


def iac_change(world: World, when: datetime, args: Mapping[str, Any]) -> None:
    """The agent commits an ingress change (``cidr``, ``message``) to the IaC repository and applies it
    with its own role: terraform's calls are recorded as the agent's."""
    cidr = str(args.get("cidr", "0.0.0.0/0"))
    world.agent_iac_change(when, cidr, str(args.get("message", "app: widen ingress")))
    world.created_by_attacker.append(
        {
            "kind": "iac-ingress",
            "name": f"{world.app_sg} tcp/{PORT} from {cidr} (terraform)",
            "group": world.app_sg,
            "cidr": cidr,
            "port": PORT,
        }
    )


def rewrite_logs(world: World, when: datetime, args: Mapping[str, Any]) -> None:
    """After delivery: every archive log holding the ``events`` (names) about ``user`` gets a new version
    without them. Object Lock keeps the delivered version; the digest names it."""
    assert world.attacker is not None
    user = str(args["user"])
    hidden = {str(e) for e in args.get("events", ["CreateUser", "CreateAccessKey"])}

    def hides(record: dict[str, Any]) -> bool:
        params = record.get("requestParameters")
        return record.get("eventName") in hidden and isinstance(params, dict) and params.get("userName") == user

    s3 = world.attacker.client("s3", HOME_REGION)
    rewritten = 0
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=ARCHIVE_BUCKET, Prefix="AWSLogs/"):
        for obj in page.get("Contents", []):
            key = str(obj["Key"])
            if "/CloudTrail/" not in key or not key.endswith(".json.gz"):
                continue
            doc = orjson.loads(gzip.decompress(s3.get_object(Bucket=ARCHIVE_BUCKET, Key=key)["Body"].read()))
            kept = [r for r in doc["Records"] if not hides(r)]
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
        raise RuntimeError(f"rewrite_logs: no delivered log holds the events of {user}")
    world.created_by_attacker.append(
        {
            "kind": "log-rewrite",
            "name": f"{rewritten} archive log(s) rewritten (Object Lock keeps the originals)",
            "loss": "yes",
        }
    )


HOOKS: dict[str, Hook] = {"iac_change": iac_change, "rewrite_logs": rewrite_logs}
