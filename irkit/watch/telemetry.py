"""Telemetry lost: the attacker's StopLogging silences every other check, so each pass checks the feed.

- every trail the agent's account has (``DescribeTrails``, shadow trails included): ``GetTrailStatus``
  must say ``IsLogging``, and ``LatestDeliveryTime`` must be no older than ``max_silence``;
- a trail seen in an earlier pass that is gone (DeleteTrail) is lost telemetry too;
- the archive itself: the newest delivery per account no older than ``max_silence``.

Each is a critical finding with a dedup key per episode (the trail's stop time, the last delivery
before the silence): paged once per stop, again only after the feed came back and was lost again.
A check that cannot be made (AccessDenied) is a named gap, never a reassurance.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from irkit.cloudtrail.collect import describe
from irkit.detect.event import format_time
from irkit.detect.rule import Finding
from irkit.gaps import Gap
from irkit.watch.state import WatchState

TRAIL_STOPPED = "watch_trail_stopped"
TRAIL_MISSING = "watch_trail_missing"
TRAIL_STALE = "watch_trail_delivery_stale"
ARCHIVE_SILENT = "watch_archive_silent"
TELEMETRY_RULES = frozenset({TRAIL_STOPPED, TRAIL_MISSING, TRAIL_STALE, ARCHIVE_SILENT})
_MITRE = ("T1562.008",)


@dataclass
class TelemetryCheck:
    findings: list[tuple[str, Finding]] = field(default_factory=list)
    """(episode, finding): the episode names one stop or one silence."""
    gaps: list[Gap] = field(default_factory=list)
    trails: list[str] = field(default_factory=list)


def _when(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, int | float) and value > 0:
        return datetime.fromtimestamp(value, UTC)
    return None


def _finding(rule_id: str, title: str, principal: str, when: datetime, detail: str, **evidence: Any) -> Finding:
    return Finding(
        rule_id=rule_id,
        severity="critical",
        title=title,
        event_ids=(),
        principal=principal,
        mitre=_MITRE,
        first_seen=when,
        detail=detail,
        attribution="irkit watch telemetry check",
        evidence=evidence,
    )


def episode_key(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32]


def check_trails(cloudtrail: Any, *, state: WatchState, now: datetime, max_silence: timedelta) -> TelemetryCheck:
    out = TelemetryCheck()
    try:
        trails = cloudtrail.describe_trails(includeShadowTrails=True).get("trailList", [])
    except (ClientError, BotoCoreError) as exc:
        out.gaps.append(Gap("cloudtrail:DescribeTrails", f"trail state not checked: {describe(exc)}"))
        return out
    present: set[str] = set()
    for trail in trails:
        arn = str(trail.get("TrailARN") or trail.get("Name") or "")
        if not arn:
            continue
        present.add(arn)
        try:
            status = cloudtrail.get_trail_status(Name=arn)
        except (ClientError, BotoCoreError) as exc:
            out.gaps.append(Gap(arn, f"trail status not checked: {describe(exc)}"))
            continue
        if not status.get("IsLogging"):
            stopped = _when(status.get("StopLoggingTime"))
            since = format_time(stopped) if stopped else "unknown"
            out.findings.append(
                (
                    f"stopped:{arn}:{since}",
                    _finding(
                        TRAIL_STOPPED,
                        "CloudTrail trail is not logging: telemetry lost",
                        arn,
                        stopped or now,
                        f"trail {arn} stopped logging at {since}; nothing it covered is recorded since",
                        trail=arn,
                        stopped_at=since,
                        home_region=trail.get("HomeRegion"),
                        multi_region=trail.get("IsMultiRegionTrail"),
                        organization=trail.get("IsOrganizationTrail"),
                    ),
                )
            )
            continue
        out.trails.append(arn)
        latest = _when(status.get("LatestDeliveryTime"))
        if latest is not None and now - latest > max_silence:
            out.findings.append(
                (
                    f"stale:{arn}:{format_time(latest)}",
                    _finding(
                        TRAIL_STALE,
                        "CloudTrail trail has not delivered for longer than allowed",
                        arn,
                        latest + max_silence,
                        f"trail {arn} logs but last delivered at {format_time(latest)} "
                        f"(more than {int(max_silence.total_seconds() // 60)} min ago)",
                        trail=arn,
                        latest_delivery=format_time(latest),
                        delivery_error=status.get("LatestDeliveryError"),
                    ),
                )
            )
    for arn in state.trails:
        if arn not in present:
            out.findings.append(
                (
                    f"missing:{arn}",
                    _finding(
                        TRAIL_MISSING,
                        "CloudTrail trail disappeared: telemetry lost",
                        arn,
                        now,
                        f"trail {arn} was logging in an earlier pass and is gone now",
                        trail=arn,
                    ),
                )
            )
    return out


def check_archive(
    accounts: Sequence[str], *, bucket: str, state: WatchState, now: datetime, max_silence: timedelta, window_start: str
) -> TelemetryCheck:
    """Silence in the archive itself: no delivery for longer than ``max_silence`` (per account)."""
    out = TelemetryCheck()
    for account in accounts:
        newest_text = state.newest.get(account)
        newest = datetime.fromisoformat(newest_text.replace("Z", "+00:00")) if newest_text else None
        if newest is not None and now - newest <= max_silence:
            continue
        last = format_time(newest) if newest else f"nothing since {window_start}"
        minutes = int(max_silence.total_seconds() // 60)
        out.findings.append(
            (
                f"silent:{account}:{last}",
                _finding(
                    ARCHIVE_SILENT,
                    f"No CloudTrail delivery for more than {minutes} minutes: telemetry lost",
                    f"s3://{bucket}/ (account {account})",
                    (newest or now) + max_silence if newest else now,
                    f"the newest log of account {account} in s3://{bucket} was delivered at {last}",
                    account=account,
                    bucket=bucket,
                    newest_delivery=last,
                    max_silence_minutes=minutes,
                ),
            )
        )
    return out
