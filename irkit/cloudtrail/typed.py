"""A typed, schema-driven decode of CloudTrail log documents (msgspec), for the analysis pass.

Per record only the fields :class:`~irkit.detect.event.Event` lifts are decoded (the ~15 top-level
and identity fields), into :class:`_Record` structs; ``requestParameters``, ``responseElements`` and
the whole record stay JSON bytes and are decoded on first access, at most once
(:class:`LazyEvent`). Rules see the same ``Event`` shape: ``request``, ``response`` and ``raw`` are
the same mappings the tolerant path builds, only later.

Anything that does not fit the schema goes to the tolerant path (:func:`reader.event_from_record`
over the record decoded generically), so a wrong type, a missing field or a non-object record reads
exactly as before: an event, or a named ``malformed record`` gap — never a traceback. A document the
typed decoder cannot read at all is handed back (``None``) to the reader's own parser, which names
the gap as it always did.

Every value here is decoded by msgspec from the bytes the reader inflated (and, for the digest
verifier, hashed): the typed fields and the lazy mappings come from the same parser, so they cannot
disagree about a duplicated key (the last one wins in both) or a number.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from datetime import datetime
from typing import Any

import msgspec

from irkit.detect.event import Event

_EMPTY: Mapping[str, Any] = {}
_NULL = msgspec.Raw(b"null")


# CloudTrail's own (camelCase) keys are the field names.
class _Issuer(msgspec.Struct):
    arn: str | None = None


class _Context(msgspec.Struct):
    sessionIssuer: _Issuer | None = None


class _Identity(msgspec.Struct):
    type: str | None = None
    arn: str | None = None
    accountId: str | None = None
    accessKeyId: str | None = None
    sessionContext: _Context | None = None


class _Record(msgspec.Struct):
    eventTime: str
    eventName: str
    eventID: str | None = None
    eventSource: str | None = None
    awsRegion: str | None = None
    sourceIPAddress: str | None = None
    userAgent: str | None = None
    errorCode: str | None = None
    userIdentity: _Identity | None = None
    recipientAccountId: str | None = None
    readOnly: bool | None = None
    eventType: str | None = None
    vpcEndpointId: str | None = None
    # small top-level values some rules read through raw.get on many events (the inventory: every
    # change's resources): decoded here so that question does not decode the whole record
    resources: Any = None
    additionalEventData: Any = None
    requestParameters: msgspec.Raw = _NULL
    responseElements: msgspec.Raw = _NULL


class _Document(msgspec.Struct):
    Records: list[msgspec.Raw]


_decode_document = msgspec.json.Decoder(_Document).decode
_decode_record = msgspec.json.Decoder(_Record).decode
decode_any: Callable[[bytes], Any] = msgspec.json.Decoder().decode
"""The generic decoder of the lazy fields and of the tolerant fallback (one parser for a record)."""


def document_records(data: bytes | bytearray | memoryview) -> list[bytes] | None:
    """Each record's JSON bytes (copies: nothing refers to ``data`` afterwards, so a mapping of it can
    be closed), or ``None`` when the document is not ``{"Records": [...]}`` valid JSON (the reader's
    own parser then says what it is)."""
    try:
        doc = _decode_document(data)
    except (msgspec.DecodeError, msgspec.ValidationError, RecursionError):  # RecursionError: deep nesting
        return None
    records = [bytes(raw) for raw in doc.Records]
    del doc
    return records


# -- the lazy event ----------------------------------------------------------------------------------

_slot = Event.__dict__
_get_request, _set_request = _slot["request"].__get__, _slot["request"].__set__
_get_response, _set_response = _slot["response"].__get__, _slot["response"].__set__
_get_raw, _set_raw = _slot["raw"].__get__, _slot["raw"].__set__


def _mapping(raw: bytes | msgspec.Raw) -> Mapping[str, Any]:
    try:
        value = decode_any(raw)
    except (msgspec.DecodeError, RecursionError):  # accepted by the typed pass: cannot happen; be safe
        return _EMPTY
    return value if type(value) is dict else _EMPTY


class LazyEvent(Event):
    """An :class:`Event` whose ``request``, ``response`` and ``raw`` are decoded on first access.

    The three are properties over :class:`Event`'s own slots: the first read decodes the JSON bytes
    kept from the record and stores the result in the slot, so each is decoded at most once and the
    object is as read-only as any ``Event``. ``raw.get`` of a top-level scalar the typed pass already
    read answers from it without decoding the record (the inventory asks every change's
    ``eventType``)."""

    __slots__ = ("_record_json", "_request_json", "_response_json", "_top")
    _record_json: bytes
    _request_json: msgspec.Raw
    _response_json: msgspec.Raw
    _top: dict[str, Any]

    @property
    def request(self) -> Mapping[str, Any]:
        try:
            return _get_request(self)  # type: ignore[no-any-return]
        except AttributeError:
            value = _mapping(self._request_json)
            _set_request(self, value)
            return value

    @property
    def response(self) -> Mapping[str, Any]:
        try:
            return _get_response(self)  # type: ignore[no-any-return]
        except AttributeError:
            value = _mapping(self._response_json)
            _set_response(self, value)
            return value

    @property
    def raw(self) -> Mapping[str, Any]:
        try:
            return _get_raw(self)  # type: ignore[no-any-return]
        except AttributeError:
            value = _RecordView(self._record_json, self._top)
            _set_raw(self, value)
            return value


_set_record_json = LazyEvent.__dict__["_record_json"].__set__
_set_request_json = LazyEvent.__dict__["_request_json"].__set__
_set_response_json = LazyEvent.__dict__["_response_json"].__set__
_set_top = LazyEvent.__dict__["_top"].__set__


class _RecordView(Mapping[str, Any]):
    """``event.raw`` of a :class:`LazyEvent`: the record as a mapping, decoded on the first question
    the typed fields cannot answer (any key beyond the top-level values kept, iteration, length).

    It holds the record's bytes and the kept values, never the event: a reference back would make a
    cycle per event, and the analysis pass runs with the cyclic collector paused."""

    __slots__ = ("_json", "_record", "_top")

    def __init__(self, data: bytes, top: dict[str, Any]) -> None:
        self._json = data
        self._top = top
        self._record: dict[str, Any] | None = None

    def _full(self) -> dict[str, Any]:
        if self._record is None:
            record: dict[str, Any] = decode_any(self._json)  # a dict: the typed pass read it as an object
            self._record = record
        return self._record

    def get(self, key: str, default: Any = None) -> Any:
        if self._record is None:
            top = self._top
            value = top.get(key)
            # a kept value answers; an absent one (None) may be absent or null: only the record knows
            # when the caller's default is not None
            if value is not None or (default is None and key in top):
                return value
        return self._full().get(key, default)

    def __getitem__(self, key: str) -> Any:
        return self._full()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._full())

    def __len__(self) -> int:
        return len(self._full())

    def __contains__(self, key: object) -> bool:
        return key in self._full()

    def __eq__(self, other: object) -> bool:
        return self._full() == (other._full() if isinstance(other, _RecordView) else other)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return repr(self._full())


# -- building ----------------------------------------------------------------------------------------

_new = object.__new__
_set = {name: _slot[name].__set__ for name in (
    "event_id", "event_time", "event_source", "event_name", "region", "source_ip", "user_agent",
    "error_code", "identity_type", "principal_arn", "issuer_arn", "access_key_id", "account_id", "read_only",
)}  # fmt: skip
(
    _set_id, _set_time, _set_source, _set_name, _set_region, _set_ip, _set_agent, _set_error, _set_type,
    _set_arn, _set_issuer, _set_key, _set_account, _set_read_only,
) = _set.values()  # fmt: skip


def typed_event(data: bytes, parse_time: Callable[[str], datetime]) -> LazyEvent | None:
    """The event of one record's JSON bytes, or ``None`` when the record does not fit the schema
    (the caller then takes the tolerant path). ``parse_time`` is the reader's: it raises
    :class:`~irkit.detect.event.MalformedRecord` on a bad time, as the tolerant path does."""
    try:
        record = _decode_record(data)
    except (msgspec.DecodeError, msgspec.ValidationError, RecursionError):
        return None
    identity = record.userIdentity
    event = _new(LazyEvent)
    _set_id(event, record.eventID or "")
    _set_time(event, parse_time(record.eventTime))
    _set_source(event, record.eventSource or "")
    _set_name(event, record.eventName)
    _set_region(event, record.awsRegion or "")
    _set_ip(event, record.sourceIPAddress or "")
    _set_agent(event, record.userAgent or "")
    _set_error(event, record.errorCode or None)
    if identity is None:
        _set_type(event, "")
        _set_arn(event, "")
        _set_issuer(event, None)
        _set_key(event, "")
        _set_account(event, record.recipientAccountId or "")
    else:
        ctx = identity.sessionContext
        issuer = ctx.sessionIssuer if ctx is not None else None
        _set_type(event, identity.type or "")
        _set_arn(event, identity.arn or "")
        _set_issuer(event, (issuer.arn or None) if issuer is not None else None)
        _set_key(event, identity.accessKeyId or "")
        _set_account(event, identity.accountId or record.recipientAccountId or "")
    _set_read_only(event, record.readOnly)
    _set_record_json(event, data)
    _set_request_json(event, record.requestParameters)
    _set_response_json(event, record.responseElements)
    # top-level strings raw.get may be asked without decoding the record
    _set_top(
        event,
        {
            "eventType": record.eventType,
            "recipientAccountId": record.recipientAccountId,
            "vpcEndpointId": record.vpcEndpointId,
            "resources": record.resources,
            "additionalEventData": record.additionalEventData,
        },
    )
    return event
