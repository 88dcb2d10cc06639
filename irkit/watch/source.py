"""The archive as a feed: what was delivered since the last pass, per account/region prefix.

Each prefix ``…/CloudTrail/<region>/`` is listed with ``StartAfter`` set to the key CloudTrail would
give a file delivered at the cursor minus :data:`DELIVERY_LAG` (keys sort by delivery time, so
this lists only the recent tail, whatever the archive's size). A file can appear after a later one
(delivery is not in order), which the lag allows for; keys already read are remembered and
skipped. A key that cannot be a file name (``..``, control characters) is named as a gap once and
never fetched; an object that cannot be fetched is not remembered, so the next pass tries again.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from irkit.cloudtrail import inflate
from irkit.cloudtrail.collect import describe, stream_read_only
from irkit.cloudtrail.keys import display, evidence_path, refusal
from irkit.cloudtrail.layout import TrailLayout, parse_key
from irkit.cloudtrail.reader import ReadStats, iter_events
from irkit.detect.event import Event, format_time, parse_time
from irkit.gaps import Gap
from irkit.watch.state import WatchState

DELIVERY_LAG = timedelta(minutes=15)
"""How much earlier than the newest delivery a file may still appear (CloudTrail's 5-minute files
arrive within about 15 minutes, not always in order)."""
SEEN_MARGIN = timedelta(hours=1)
MAX_OBJECTS_PER_PASS = 5_000
"""Objects read in one pass; the rest wait for the next (a pass stays bounded after a long outage)."""
_ACCOUNT_DIR = re.compile(r"^\d{12}$")
_REGION_DIR = re.compile(r"^[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-\d$")


@dataclass
class Delivery:
    """What one pass read from the archive."""

    events: list[Event] = field(default_factory=list)
    files: int = 0
    gaps: list[Gap] = field(default_factory=list)
    accounts: list[str] = field(default_factory=list)
    newest: dict[str, datetime] = field(default_factory=dict)
    """Account → the newest delivery time seen in this pass."""


def _folders(s3: Any, bucket: str, prefix: str) -> list[str]:
    out: list[str] = []
    token: str | None = None
    while True:
        kwargs: dict[str, Any] = {"Bucket": bucket, "Prefix": prefix, "Delimiter": "/"}
        if token:
            kwargs["ContinuationToken"] = token
        page = s3.list_objects_v2(**kwargs)
        out.extend(str(p["Prefix"])[len(prefix) :].strip("/") for p in page.get("CommonPrefixes", []))
        if not page.get("IsTruncated"):
            return out
        token = page.get("NextContinuationToken")


def _start_after(layout: TrailLayout, account: str, region: str, when: datetime) -> str:
    """The key a file delivered at ``when`` would sort after (no id: every such file sorts after it)."""
    return f"{layout.day_prefix(account, region, when)}{account}_CloudTrail_{region}_{when:%Y%m%dT%H%MZ}"


def read_new(
    s3: Any,
    *,
    layout: TrailLayout,
    accounts: Sequence[str],
    regions: Sequence[str],
    state: WatchState,
    first_start: datetime,
    now: datetime,
) -> Delivery:
    """List and read every log delivered since the state's cursors (``first_start`` for a new prefix)."""
    out = Delivery()
    bucket = layout.bucket
    try:
        if not accounts:
            root = "/".join(p for p in (layout.prefix.strip("/"), "AWSLogs", layout.organization_id) if p) + "/"
            accounts = [a for a in _folders(s3, bucket, root) if _ACCOUNT_DIR.match(a)]
    except (ClientError, BotoCoreError) as exc:
        out.gaps.append(Gap(f"s3://{bucket}", f"cannot list the archive's accounts: {describe(exc)}"))
        return out
    out.accounts = list(accounts)
    wanted: list[tuple[str, str, str, datetime]] = []  # (prefix, key, account, delivered)
    for account in accounts:
        try:
            found = list(regions) or [
                r for r in _folders(s3, bucket, layout.region_root(account)) if _REGION_DIR.match(r)
            ]
        except (ClientError, BotoCoreError) as exc:
            out.gaps.append(Gap(f"s3://{bucket}/{layout.region_root(account)}", f"cannot list: {describe(exc)}"))
            continue
        for region in found:
            prefix = f"{layout.region_root(account)}{region}/"
            wanted.extend(_list_prefix(s3, bucket, layout, account, region, prefix, state, first_start, now, out))
    wanted.sort(key=lambda w: (w[3], w[1]))
    if len(wanted) > MAX_OBJECTS_PER_PASS:
        later = len(wanted) - MAX_OBJECTS_PER_PASS
        out.gaps.append(Gap(f"s3://{bucket}", f"{later} more new log files than one pass reads: read next pass"))
        wanted = wanted[:MAX_OBJECTS_PER_PASS]
    _read(s3, bucket, wanted, state, out)
    return out


def _list_prefix(
    s3: Any,
    bucket: str,
    layout: TrailLayout,
    account: str,
    region: str,
    prefix: str,
    state: WatchState,
    first_start: datetime,
    now: datetime,
    out: Delivery,
) -> list[tuple[str, str, str, datetime]]:
    cursor_doc = state.cursors.setdefault(prefix, {"after": format_time(first_start), "seen": {}})
    cursor = parse_time(str(cursor_doc.get("after") or format_time(first_start)))
    seen: dict[str, str] = cursor_doc.setdefault("seen", {})
    floor = cursor - DELIVERY_LAG
    found: list[tuple[str, str, str, datetime]] = []
    token: str | None = None
    try:
        while True:
            kwargs: dict[str, Any] = {
                "Bucket": bucket,
                "Prefix": prefix,
                "StartAfter": _start_after(layout, account, region, floor),
            }
            if token:
                kwargs["ContinuationToken"] = token
            page = s3.list_objects_v2(**kwargs)
            for obj in page.get("Contents", []):
                key = str(obj["Key"])
                if key in seen:
                    continue
                reason = refusal(key)
                if reason is not None:
                    seen[key] = format_time(now)  # named once, never fetched
                    out.gaps.append(
                        Gap(
                            f"s3://{bucket}/{display(key, limit=1024)}",
                            f"key-refused: {reason}; not read (CloudTrail writes no such key: someone else wrote it)",
                        )
                    )
                    continue
                info = parse_key(key)
                if info is None or info.digest or info.delivered < floor:
                    continue
                size = int(obj.get("Size", 0))
                if size > inflate.stored_limit():
                    seen[key] = format_time(info.delivered)
                    out.gaps.append(
                        Gap(f"s3://{bucket}/{key}", f"{size} bytes stored: more than any log holds; not read")
                    )
                    continue
                found.append((prefix, key, account, info.delivered))
            if not page.get("IsTruncated"):
                break
            token = page.get("NextContinuationToken")
    except (ClientError, BotoCoreError) as exc:
        out.gaps.append(Gap(f"s3://{bucket}/{prefix}", f"cannot list: {describe(exc)}"))
    return found


def _read(s3: Any, bucket: str, wanted: list[tuple[str, str, str, datetime]], state: WatchState, out: Delivery) -> None:
    if not wanted:
        return
    # The objects are copied into a private scratch folder only to be read, then dropped: the archive
    # keeps the evidence (irkit contain collects it, with its manifest).
    with tempfile.TemporaryDirectory(prefix=".incoming-", dir=state.root) as scratch:
        root = Path(scratch)
        paths: list[Path] = []
        uri_of: dict[str, str] = {}
        for prefix, key, account, delivered in wanted:
            uri = f"s3://{bucket}/{key}"
            try:
                path = evidence_path(root, key)
                path.parent.mkdir(parents=True, exist_ok=True)
                body = s3.get_object(Bucket=bucket, Key=key)["Body"]
                stream_read_only(body, path)
            except Exception as exc:  # this object's failure is its gap; the next pass tries again
                out.gaps.append(Gap(uri, f"not read: {describe(exc)}; tried again next pass"))
                continue
            paths.append(path)
            uri_of[str(path)] = uri
            state.cursors[prefix]["seen"][key] = format_time(delivered)
            out.newest[account] = max(out.newest.get(account, delivered), delivered)
        stats = ReadStats()
        out.events.extend(iter_events(paths, stats, workers=0))
        out.files += stats.files
        prefix_len = len(str(root)) + 1
        for gap in stats.gaps:
            head = gap.path.split("#", 1)[0].split(":", 1)[0] if gap.path.startswith(str(root)) else gap.path
            mapped = uri_of.get(head)
            where = mapped + gap.path[len(head) :] if mapped else gap.path[prefix_len:]
            out.gaps.append(Gap(where, gap.reason))


def advance_cursors(state: WatchState, now: datetime) -> None:
    """Each prefix's cursor moves to the newest delivery it has read; remembered keys older than
    the lag (and a margin) below it are forgotten, their files can no longer be listed again."""
    for doc in state.cursors.values():
        seen: dict[str, str] = doc.get("seen") or {}
        times = [parse_time(t) for t in seen.values()]
        cursor = parse_time(str(doc["after"]))
        if times:
            cursor = max(cursor, min(max(times), now.astimezone(UTC)))
        doc["after"] = format_time(cursor)
        forget = cursor - DELIVERY_LAG - SEEN_MARGIN
        doc["seen"] = {k: t for k, t in seen.items() if parse_time(t) >= forget}
