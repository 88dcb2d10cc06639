"""One time format for every string of the report: ``2026-11-25T03:12:09Z`` (UTC, seconds).

The journal writes ``+00:00``, CloudTrail ``Z``, some steps milliseconds: everything the report shows
goes through :func:`utc`, so a responder compares times by eye. Durations through :func:`duration`.
"""

from __future__ import annotations

from datetime import UTC, datetime

UNKNOWN = "unknown"


def parse(value: object) -> datetime | None:
    """``value`` (a datetime or an ISO 8601 string) as an aware UTC datetime; None when it is not one."""
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(UTC)
    if not isinstance(value, str) or not value or len(value) > 40:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).astimezone(UTC)


def utc(value: object) -> str:
    """``2026-11-25T03:12:09Z``; ``unknown`` for anything that is not a time (a forged eventTime)."""
    parsed = parse(value)
    return parsed.strftime("%Y-%m-%dT%H:%M:%SZ") if parsed else UNKNOWN


def seconds_between(start: object, end: object) -> float | None:
    """``end - start`` in seconds, None when either is not a time or the order is reversed."""
    a, b = parse(start), parse(end)
    if a is None or b is None or b < a:
        return None
    return round((b - a).total_seconds(), 3)


def duration(seconds: object) -> str:
    """``4 min 12 s``, ``2 h 05 min``, ``0.3 s``; ``unknown`` when not measured."""
    if not isinstance(seconds, int | float) or isinstance(seconds, bool) or seconds < 0:
        return UNKNOWN
    if seconds < 10:
        return f"{seconds:.1f} s"
    total = round(seconds)
    days, rest = divmod(total, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days} d {hours:02d} h"
    if hours:
        return f"{hours} h {minutes:02d} min"
    if minutes:
        return f"{minutes} min {secs:02d} s"
    return f"{secs} s"
