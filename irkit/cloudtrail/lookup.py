"""The LookupEvents fallback: a principal's management events when the archive cannot be read, written to
``lookup/<attribute>-<name>.jsonl`` with their own manifest, every result marked unverified (no digest
chain vouches for it; management events only, 90 days).
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
from botocore.exceptions import BotoCoreError, ClientError

from irkit.cloudtrail.collect import CollectResult, describe, retrying
from irkit.cloudtrail.manifest import MANIFEST_FORMAT, write_manifest, write_read_only
from irkit.detect.event import format_time
from irkit.gaps import Gap

LOOKUP_RATE = 2.0  # LookupEvents: 2 requests a second per account and region
UNVERIFIED = (
    "UNVERIFIED evidence from cloudtrail:LookupEvents: management events only, last 90 days, "
    "no digest chain vouches for it"
)


def _lookup_attribute(principal: str) -> dict[str, str]:
    if re.match(r"^(AKIA|ASIA)[A-Z0-9]{12,}$", principal):
        return {"AttributeKey": "AccessKeyId", "AttributeValue": principal}
    # Users appear under their name; role sessions under the session name, which for agents is
    # usually the role name; sessions named otherwise are only found by their access key id.
    return {"AttributeKey": "Username", "AttributeValue": principal.rsplit("/", 1)[-1]}


@dataclass(slots=True)
class _Throttle:
    rate: float
    sleep: Callable[[float], None]
    clock: Callable[[], float]
    _last: float | None = field(default=None)

    def wait(self) -> None:
        if self._last is not None:
            delay = 1.0 / self.rate - (self.clock() - self._last)
            if delay > 0:
                self.sleep(delay)
        self._last = self.clock()


def lookup_fallback(
    cloudtrail: Any,
    principals: Iterable[str],
    start: datetime,
    end: datetime,
    dest: Path,
    *,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> CollectResult:
    """Management events of each principal (ARN or access key id) via LookupEvents, to
    ``dest/lookup/<name>.jsonl``; every result is marked unverified. Use only when the archive
    cannot be read."""
    folder = dest / "lookup"
    folder.mkdir(parents=True, exist_ok=True)
    throttle = _Throttle(LOOKUP_RATE, sleep, clock)
    gaps = [Gap("cloudtrail:LookupEvents", UNVERIFIED)]
    if end - start > timedelta(days=90):
        gaps.append(
            Gap("cloudtrail:LookupEvents", "LookupEvents keeps 90 days; older events are not covered")
        )
    paths: list[Path] = []
    objects: list[dict[str, Any]] = []
    total = 0
    for principal in principals:
        attr = _lookup_attribute(principal)
        name = re.sub(r"[^A-Za-z0-9._-]", "_", attr["AttributeValue"])
        path = folder / f"{attr['AttributeKey']}-{name}.jsonl"
        kwargs: dict[str, Any] = {
            "LookupAttributes": [attr],
            "StartTime": start,
            "EndTime": end,
            "MaxResults": 50,
        }
        lines: list[bytes] = []
        try:
            while True:
                throttle.wait()
                resp = retrying(cloudtrail.lookup_events)(**kwargs)
                for event in resp.get("Events", []):
                    raw = event.get("CloudTrailEvent")
                    if isinstance(raw, str):
                        lines.append(orjson.dumps(orjson.loads(raw)))
                token = resp.get("NextToken")
                if not token:
                    break
                kwargs["NextToken"] = token
        except (ClientError, BotoCoreError, orjson.JSONDecodeError) as exc:
            gaps.append(
                Gap(
                    f"cloudtrail:LookupEvents {attr['AttributeKey']}={attr['AttributeValue']}",
                    f"lookup stopped: {describe(exc)}",
                )
            )
        data = b"\n".join(lines) + (b"\n" if lines else b"")
        write_read_only(path, data)
        paths.append(path)
        total += len(data)
        objects.append(
            {
                "key": path.relative_to(dest).as_posix(),
                "principal": principal,
                "events": len(lines),
                "size": len(data),
                "sha256": hashlib.sha256(data).hexdigest(),
                "fetched_at": format_time(datetime.now(UTC)),
                "verified": False,
            }
        )
    doc = {
        "format": MANIFEST_FORMAT,
        "engine": "lookup-events",
        "verified": False,
        "window": {"start": format_time(start), "end": format_time(end)},
        "objects": objects,
        "gaps": [g.to_json() for g in gaps],
    }
    manifest = write_manifest(folder, doc)
    return CollectResult(
        files=len(paths),
        bytes=total,
        skipped=0,
        manifest=manifest,
        gaps=tuple(gaps),
        paths=tuple(paths),
        verified=False,
    )
