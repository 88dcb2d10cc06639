"""One CloudTrail record as a typed, read-only Event.

Rules and detectors only ever see :class:`Event`; the raw record stays reachable through
``event.raw`` for the rare rule that needs a field not lifted here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

_EMPTY: Mapping[str, Any] = {}


class MalformedRecord(ValueError):
    """A record that is not a CloudTrail event (missing eventName/eventTime, wrong types)."""


@dataclass(frozen=True, slots=True)
class Event:
    event_id: str
    event_time: datetime
    event_source: str
    event_name: str
    region: str
    source_ip: str
    user_agent: str
    error_code: str | None
    identity_type: str
    principal_arn: str
    """``userIdentity.arn``: for an assumed role, the session ARN (``assumed-role/NAME/SESSION``)."""
    issuer_arn: str | None
    """``sessionContext.sessionIssuer.arn`` for role sessions and federated users."""
    access_key_id: str
    account_id: str
    request: Mapping[str, Any]
    response: Mapping[str, Any]
    read_only: bool | None
    raw: Mapping[str, Any]

    @property
    def service(self) -> str:
        """``iam`` for ``iam.amazonaws.com``."""
        return self.event_source.split(".", 1)[0]

    @property
    def succeeded(self) -> bool:
        return not self.error_code

    @property
    def actor(self) -> str:
        """The long-lived principal behind the call: the role for a role session, else the ARN."""
        return self.issuer_arn or self.principal_arn

    @property
    def action(self) -> str:
        """IAM-style action name, ``iam:CreateRole``."""
        return f"{self.service}:{self.event_name}"

    @classmethod
    def from_record(cls, record: object) -> Event:
        if not isinstance(record, Mapping):
            raise MalformedRecord("record is not a JSON object")
        name = record.get("eventName")
        when = record.get("eventTime")
        if not isinstance(name, str) or not isinstance(when, str):
            raise MalformedRecord("record lacks eventName or eventTime")
        identity = record.get("userIdentity")
        if not isinstance(identity, Mapping):
            identity = _EMPTY
        ctx = identity.get("sessionContext")
        issuer = ctx.get("sessionIssuer") if isinstance(ctx, Mapping) else None
        issuer_arn = issuer.get("arn") if isinstance(issuer, Mapping) else None
        request = record.get("requestParameters")
        response = record.get("responseElements")
        read_only = record.get("readOnly")
        return cls(
            event_id=str(record.get("eventID") or ""),
            event_time=parse_time(when),
            event_source=str(record.get("eventSource") or ""),
            event_name=name,
            region=str(record.get("awsRegion") or ""),
            source_ip=str(record.get("sourceIPAddress") or ""),
            user_agent=str(record.get("userAgent") or ""),
            error_code=str(record["errorCode"]) if record.get("errorCode") else None,
            identity_type=str(identity.get("type") or ""),
            principal_arn=str(identity.get("arn") or ""),
            issuer_arn=str(issuer_arn) if issuer_arn else None,
            access_key_id=str(identity.get("accessKeyId") or ""),
            account_id=str(identity.get("accountId") or record.get("recipientAccountId") or ""),
            request=request if isinstance(request, Mapping) else _EMPTY,
            response=response if isinstance(response, Mapping) else _EMPTY,
            read_only=read_only if isinstance(read_only, bool) else None,
            raw=record,
        )


def parse_time(value: str) -> datetime:
    """CloudTrail times are ISO 8601 UTC (``2026-11-25T03:12:09Z``)."""
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise MalformedRecord(f"bad eventTime {value!r}") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def format_time(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
