"""One CloudTrail record as a typed, read-only Event.

Rules and detectors only ever see :class:`Event`; the raw record stays reachable through
``event.raw`` for the rare rule that needs a field not lifted here.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import msgspec

_EMPTY: Mapping[str, Any] = {}
_force = msgspec.structs.force_setattr
_decode = msgspec.json.Decoder().decode


def _mapping(raw: msgspec.Raw) -> Mapping[str, Any]:
    """A lazily kept JSON object; anything else (``null``, a list, text) reads as empty, as the
    tolerant path reads a non-object ``requestParameters``."""
    try:
        value = _decode(raw)
    except (msgspec.DecodeError, RecursionError):  # the typed pass accepted it: cannot happen; be safe
        return _EMPTY
    return value if type(value) is dict else _EMPTY


class MalformedRecord(ValueError):
    """A record that is not a CloudTrail event (missing eventName/eventTime, wrong types)."""


class Event(msgspec.Struct, frozen=True, gc=False):
    """One CloudTrail record. Read-only; built by :meth:`from_record` or by the reader's typed decode.

    ``request``, ``response`` and ``raw`` may be kept as the record's JSON bytes and decoded on
    first access, at most once (the analysis pass reads most events without them). A C-built
    struct, not tracked by the cyclic collector: an event refers to no event.
    """

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
    read_only: bool | None
    request_source: Any = _EMPTY
    """``request`` as given: a mapping, or JSON bytes (:class:`msgspec.Raw`) decoded on first access."""
    response_source: Any = _EMPTY
    raw_source: Any = _EMPTY
    """``raw`` as given: the record mapping, or a lazy view over its JSON bytes."""

    @property
    def request(self) -> Mapping[str, Any]:
        value = self.request_source
        if type(value) is msgspec.Raw:
            value = _mapping(value)
            _force(self, "request_source", value)
        return value  # type: ignore[no-any-return]

    @property
    def response(self) -> Mapping[str, Any]:
        value = self.response_source
        if type(value) is msgspec.Raw:
            value = _mapping(value)
            _force(self, "response_source", value)
        return value  # type: ignore[no-any-return]

    @property
    def raw(self) -> Mapping[str, Any]:
        value = self.raw_source
        if type(value) is tuple:  # (make, *args), kept by the typed reader: the view built on first access
            value = value[0](*value[1:])
            _force(self, "raw_source", value)
        return value  # type: ignore[no-any-return]

    def detached(self) -> Event:
        """This event holding only bytes of its own: the typed reader's lazy fields are views into
        their file's inflated bytes, and an event kept beyond its file (parked for a late
        attribution) must not keep the whole file alive."""
        request, response, raw = self.request_source, self.response_source, self.raw_source
        view = getattr(raw, "detached", None)  # a lazy view built already: its own copy
        lazy = type(request) is msgspec.Raw or type(response) is msgspec.Raw or type(raw) is tuple
        if not lazy and view is None:
            return self
        if type(request) is msgspec.Raw:
            request = msgspec.Raw(bytes(request))
        if type(response) is msgspec.Raw:
            response = msgspec.Raw(bytes(response))
        if type(raw) is tuple:
            raw = raw[0].detach(*raw[1:])
        elif view is not None:
            raw = view()
        return msgspec.structs.replace(self, request_source=request, response_source=response, raw_source=raw)

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
            read_only=read_only if isinstance(read_only, bool) else None,
            request_source=request if isinstance(request, Mapping) else _EMPTY,
            response_source=response if isinstance(response, Mapping) else _EMPTY,
            raw_source=record,
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
