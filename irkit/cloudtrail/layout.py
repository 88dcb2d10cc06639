"""Where CloudTrail puts things in S3, and what a key tells about its file.

``[prefix/]AWSLogs/[<org-id>/]<account>/CloudTrail/<region>/YYYY/MM/DD/<account>_CloudTrail_<region>_<YYYYMMDDTHHmmZ>_<id>.json.gz``
Digests live beside, under ``CloudTrail-Digest/``. The time in a log's name is its *delivery* time;
a file holds events up to about 15 minutes older, so a window is widened by :data:`DELIVERY_LAG`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

DELIVERY_LAG = timedelta(minutes=15)
# Digest files are delivered about hourly and cover the hour *before* their name's time.
DIGEST_LAG = timedelta(hours=1, minutes=15)

_NAME_RE = re.compile(
    r"(?P<account>\d{12})_CloudTrail(?P<digest>-Digest)?_(?P<region>[a-z0-9-]+)_"
    r"(?P<stamp>\d{8}T\d{4}Z)(?:_(?P<id>[A-Za-z0-9]+))?\.json\.gz$"
)


@dataclass(frozen=True, slots=True)
class TrailLayout:
    bucket: str
    prefix: str = ""
    organization_id: str | None = None

    def account_root(self, account: str) -> str:
        parts = [p for p in (self.prefix.strip("/"), "AWSLogs", self.organization_id, account) if p]
        return "/".join(parts) + "/"

    def day_prefix(self, account: str, region: str, day: datetime, *, digest: bool = False) -> str:
        kind = "CloudTrail-Digest" if digest else "CloudTrail"
        return f"{self.account_root(account)}{kind}/{region}/{day:%Y/%m/%d}/"

    def region_root(self, account: str, *, digest: bool = False) -> str:
        kind = "CloudTrail-Digest" if digest else "CloudTrail"
        return f"{self.account_root(account)}{kind}/"

    def log_key(self, account: str, region: str, delivered: datetime, file_id: str) -> str:
        return (
            f"{self.day_prefix(account, region, delivered)}"
            f"{account}_CloudTrail_{region}_{delivered:%Y%m%dT%H%MZ}_{file_id}.json.gz"
        )

    def digest_key(self, account: str, region: str, end: datetime, *, trail_name: str | None = None) -> str:
        # Real digests name the trail too: <acct>_CloudTrail-Digest_<region>_<trail>_<region>_<end>.json.gz
        trail = f"{trail_name}_{region}_" if trail_name else ""
        return (
            f"{self.day_prefix(account, region, end, digest=True)}"
            f"{account}_CloudTrail-Digest_{region}_{trail}{end:%Y%m%dT%H%M%SZ}.json.gz"
        )


@dataclass(frozen=True, slots=True)
class KeyInfo:
    account: str
    region: str
    delivered: datetime
    digest: bool


# The trail-name part (``<trail>_<region>_``) and the ``_backfill`` suffix are optional.
_DIGEST_NAME_RE = re.compile(
    r"(?P<account>\d{12})_CloudTrail-Digest_(?P<region>[a-z0-9-]+)_(?:[^/]+_)?"
    r"(?P<stamp>\d{8}T\d{6}Z)(?:_backfill)?\.json\.gz$"
)


def parse_key(key: str) -> KeyInfo | None:
    """Account, region and delivery time from a log or digest key; None for anything else."""
    name = key.rsplit("/", 1)[-1]
    m = _DIGEST_NAME_RE.search(name)
    if m:
        when = datetime.strptime(m.group("stamp"), "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
        return KeyInfo(m.group("account"), m.group("region"), when, digest=True)
    m = _NAME_RE.search(name)
    if m:
        when = datetime.strptime(m.group("stamp"), "%Y%m%dT%H%MZ").replace(tzinfo=UTC)
        return KeyInfo(m.group("account"), m.group("region"), when, digest=bool(m.group("digest")))
    return None


def days_between(start: datetime, end: datetime) -> Iterator[datetime]:
    """Each UTC day touched by [start, end], as midnight datetimes."""
    day = datetime(start.year, start.month, start.day, tzinfo=UTC)
    while day <= end:
        yield day
        day += timedelta(days=1)


def in_window(info: KeyInfo, start: datetime, end: datetime) -> bool:
    """Could this file hold events from [start, end]? Delivery is after the events it carries."""
    lag = DIGEST_LAG if info.digest else DELIVERY_LAG
    return start <= info.delivered <= end + lag
