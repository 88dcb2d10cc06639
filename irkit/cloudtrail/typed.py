"""A typed, schema-driven decode of CloudTrail log documents (msgspec), for the analysis pass.

Per record only the fields :class:`~irkit.detect.event.Event` lifts are decoded (the ~15 top-level
and identity fields, the time as a ``datetime``, all in C), into :class:`_Record` structs, and the
event is one C constructor call; ``requestParameters``, ``responseElements`` and the whole record
stay JSON bytes (:class:`msgspec.Raw`) and are decoded on first access, at most once. Rules see the
same ``Event``: ``request``, ``response`` and ``raw`` are the mappings the tolerant path builds,
only later.

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

import sys
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

import msgspec

from irkit.detect.event import Event

_NULL = msgspec.Raw(b"null")
_intern = sys.intern


# CloudTrail's own (camelCase) keys are the field names. Not tracked by the cyclic collector
# (``gc=False``): a decoded record holds only decoded JSON, which cannot refer back to it (and the
# collector is paused over the pass anyway); untracked, each of the four structs an event costs is
# cheaper to make and to free (200k bench: ~5 % of the read).
class _Issuer(msgspec.Struct, gc=False):
    arn: str | None = None


class _Context(msgspec.Struct, gc=False):
    sessionIssuer: _Issuer | None = None


class _Identity(msgspec.Struct, gc=False):
    type: str | None = None
    arn: str | None = None
    accountId: str | None = None
    accessKeyId: str | None = None
    sessionContext: _Context | None = None


class _Record(msgspec.Struct, gc=False):
    eventTime: datetime
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


class _TypedDocument(msgspec.Struct):
    Records: list[_Record]


_decode_document = msgspec.json.Decoder(_Document).decode
_decode_typed_document = msgspec.json.Decoder(_TypedDocument).decode
_decode_record = msgspec.json.Decoder(_Record).decode
decode_any: Callable[[bytes | msgspec.Raw], Any] = msgspec.json.Decoder().decode
"""The generic decoder of the lazy fields and of the tolerant fallback (one parser for a record)."""


def document_records(data: bytes | bytearray | memoryview) -> list[msgspec.Raw] | list[bytes] | None:
    """Each record's JSON bytes, or ``None`` when the document is not ``{"Records": [...]}`` valid
    JSON (the reader's own parser then says what it is). Over ``bytes`` they are views into it (it
    lives as long as one of its events does); over a mutable buffer, copies."""
    try:
        doc = _decode_document(data)
    except (msgspec.DecodeError, msgspec.ValidationError, RecursionError):  # RecursionError: deep nesting
        return None
    if type(data) is bytes:
        return doc.Records
    return [bytes(raw) for raw in doc.Records]


# -- the lazy record view ------------------------------------------------------------------------

_TOP = ("eventType", "recipientAccountId", "vpcEndpointId", "resources", "additionalEventData")
"""Top-level values the typed pass decodes (small) and ``raw.get`` answers without the record."""


class _Split:
    """One file's document, split into its records' JSON bytes on the first ``raw`` question that
    needs a whole record (the one-pass decode keeps no per-record bytes)."""

    __slots__ = ("_data", "_records")

    def __init__(self, data: bytes) -> None:
        self._data = data
        self._records: list[msgspec.Raw] | None = None

    def record(self, index: int) -> msgspec.Raw:
        if self._records is None:
            self._records = _decode_document(self._data).Records  # decoded once already: valid
        return self._records[index]


class _RecordView(msgspec.Struct, gc=False):
    """``event.raw`` of a typed event: the record as a mapping, decoded on the first question the
    typed fields cannot answer (any key beyond :data:`_TOP`, iteration, length).

    Built (in C: a struct, registered as a :class:`Mapping`) on the first access to ``raw``; most
    events never get one. It holds the record's bytes (or its file's :class:`_Split` and its index
    there) and its typed struct, never the event: a reference back would make a cycle per event,
    and neither is tracked by the cyclic collector."""

    typed: _Record
    source: bytes | msgspec.Raw | _Split
    index: int = -1
    decoded: dict[str, Any] | None = None

    @classmethod
    def detach(cls, typed: _Record, source: bytes | msgspec.Raw | _Split, index: int = -1) -> tuple[Any, ...]:
        """The arguments of a view that refers to no file's bytes (:meth:`Event.detached`)."""
        if isinstance(source, _Split):
            source = source.record(index)
        own = msgspec.structs.replace(typed, requestParameters=_NULL, responseElements=_NULL)
        return (cls, own, bytes(source))

    def detached(self) -> _RecordView:
        """This view over bytes of its own (what it decoded already is kept)."""
        cls, typed, source = self.detach(self.typed, self.source, self.index)
        return cls(typed, source, -1, self.decoded)  # type: ignore[no-any-return]

    def _full(self) -> dict[str, Any]:
        record = self.decoded
        if record is None:
            data = self.source
            if isinstance(data, _Split):
                data = data.record(self.index)
            record = decode_any(data)  # a dict: the typed pass read it as an object
            self.decoded = record
        return record

    def get(self, key: str, default: Any = None) -> Any:
        if self.decoded is None and key in _TOP:
            value = getattr(self.typed, key)
            # a kept value answers; an absent one (None) may be absent or null: only the record knows
            # when the caller's default is not None
            if value is not None or default is None:
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

    def keys(self) -> Any:
        return self._full().keys()

    def items(self) -> Any:
        return self._full().items()

    def values(self) -> Any:
        return self._full().values()

    def __eq__(self, other: object) -> bool:
        return self._full() == (other._full() if isinstance(other, _RecordView) else other)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return repr(self._full())


Mapping.register(_RecordView)


# -- building ----------------------------------------------------------------------------------------


def typed_event(data: bytes | msgspec.Raw, fix_time: Callable[[datetime], datetime]) -> Event | None:
    """The event of one record's JSON bytes, or ``None`` when the record does not fit the schema
    (the caller then takes the tolerant path). ``fix_time`` gets an ``eventTime`` that is not UTC
    (an offset, or none) and returns it in UTC, as the tolerant path reads it."""
    try:
        record = _decode_record(data)
    except (msgspec.DecodeError, msgspec.ValidationError, RecursionError):
        return None
    return _event(record, fix_time, (_RecordView, record, data))


def typed_document(data: bytes, fix_time: Callable[[datetime], datetime]) -> list[Event] | None:
    """Every event of a ``{"Records": [...]}`` document in one decode, or ``None`` when some record
    (or the document) does not fit the schema: the caller then reads it record by record."""
    try:
        records = _decode_typed_document(data).Records
    except (msgspec.DecodeError, msgspec.ValidationError, RecursionError):
        return None
    split = _Split(data)
    return [_event(record, fix_time, (_RecordView, record, split, index)) for index, record in enumerate(records)]


def _event(record: _Record, fix_time: Callable[[datetime], datetime], raw: tuple[Any, ...]) -> Event:
    when = record.eventTime
    if when.tzinfo is not UTC:
        when = fix_time(when)
    identity = record.userIdentity
    if identity is None:
        kind = arn = key = ""
        issuer_arn = None
        account = record.recipientAccountId or ""
    else:
        ctx = identity.sessionContext
        issuer = ctx.sessionIssuer if ctx is not None else None
        kind = identity.type or ""
        # one string object for every event of a principal: the detectors keep the actor of many
        # hits and cells, and each event's decode made its own copy (~10 MB of copies at 1M events)
        arn = _intern(identity.arn) if identity.arn else ""
        issuer_arn = _intern(issuer.arn) if issuer is not None and issuer.arn else None
        key = identity.accessKeyId or ""
        account = identity.accountId or record.recipientAccountId or ""
    return Event(
        record.eventID or "", when, record.eventSource or "", record.eventName, record.awsRegion or "",
        record.sourceIPAddress or "", record.userAgent or "", record.errorCode or None, kind, arn,
        issuer_arn, key, account, record.readOnly, record.requestParameters, record.responseElements, raw,
    )  # fmt: skip
