"""What an undo is made of: the attacker's change, the calls that compensate it, and how to check it.

One :class:`Inverse` a CloudTrail event name (``irkit/revert/inverses/<event_name>.py``). It reads the
event into a :class:`Change` (pure), plans an :class:`Undo` — a list of :class:`Call` s, data only,
reads allowed — and later re-reads the world to give a :class:`Verdict`. The calls are what the
responder approves and exactly what is executed (:mod:`irkit.revert.calls`); an error code listed in
``Call.done_if`` means the world is already as the call would make it ("already gone" is done).
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, ClassVar

from irkit.detect.event import Event, format_time

IRKIT_POLICIES = frozenset({"AWSRevokeOlderSessions", "irkit-revoke-older-sessions"})
"""Inline policies containment put there: never removed by a revert (they cut live sessions)."""
CASE_TAG = "irkit:case"
QUARANTINE_TAG = "irkit:quarantine"


class Reversibility(StrEnum):
    EXACT = "exact"
    BEFORE_IMAGE = "needs a before-image"
    TIME_BOXED = "time-boxed"
    DESTRUCTIVE = "destructive"
    NOT_REVERSIBLE = "not reversible"


@dataclass(frozen=True, slots=True)
class Change:
    """One successful, attributed, flagged change of the attacker's, as the undo needs it."""

    event_id: str
    event_name: str
    event_time: str
    region: str
    account: str
    actor: str
    resource: str
    """What changed, as the report names it: an ARN or an id."""
    key: str
    """The resource's identity across events (``iam:role:NAME``): before-images and chains use it."""
    params: Mapping[str, Any] = field(default_factory=dict)
    match: tuple[tuple[str, ...], ...] = ()
    """Identifier groups: a terraform state resource holding every value of one group manages it."""
    owner: str = ""
    """The key of the principal or resource whose own undo also undoes this change (a role's policy)."""
    attribution: str = ""
    rules: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "event_name": self.event_name,
            "event_time": self.event_time,
            "region": self.region,
            "account": self.account,
            "actor": self.actor,
            "resource": self.resource,
            "key": self.key,
            "params": dict(self.params),
            "match": [list(m) for m in self.match],
            "owner": self.owner,
            "attribution": self.attribution,
            "rules": list(self.rules),
        }

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> Change:
        return cls(
            event_id=str(d["event_id"]),
            event_name=str(d["event_name"]),
            event_time=str(d.get("event_time", "")),
            region=str(d.get("region", "")),
            account=str(d.get("account", "")),
            actor=str(d.get("actor", "")),
            resource=str(d.get("resource", "")),
            key=str(d.get("key", "")),
            params=dict(d.get("params") or {}),
            match=tuple(tuple(str(v) for v in m) for m in d.get("match") or []),
            owner=str(d.get("owner") or ""),
            attribution=str(d.get("attribution") or ""),
            rules=tuple(str(r) for r in d.get("rules") or []),
        )


@dataclass(frozen=True, slots=True)
class Call:
    """One compensating API call: ``op`` is ``service:Operation`` (boto3's name, IAM's action name)."""

    op: str
    region: str
    args: Mapping[str, Any]
    detail: str = ""
    done_if: tuple[str, ...] = ()
    """Error codes meaning the world is already so (the resource is gone): the call counts as done."""
    wait: str = ""
    """A boto3 waiter to run after the call (``db_snapshot_available``), with ``wait_args``."""
    wait_args: Mapping[str, Any] = field(default_factory=dict)

    @property
    def service(self) -> str:
        return self.op.split(":", 1)[0]

    @property
    def operation(self) -> str:
        return self.op.split(":", 1)[1]

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"op": self.op, "region": self.region, "args": dict(self.args), "detail": self.detail}
        if self.done_if:
            out["done_if"] = list(self.done_if)
        if self.wait:
            out["wait"] = self.wait
            out["wait_args"] = dict(self.wait_args)
        return out

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> Call:
        return cls(
            op=str(d["op"]),
            region=str(d["region"]),
            args=dict(d.get("args") or {}),
            detail=str(d.get("detail", "")),
            done_if=tuple(str(c) for c in d.get("done_if") or []),
            wait=str(d.get("wait") or ""),
            wait_args=dict(d.get("wait_args") or {}),
        )


@dataclass(frozen=True, slots=True)
class Undo:
    calls: tuple[Call, ...] = ()
    status: str = "planned"
    """planned | nothing to do | not reversible | manual"""
    exact: bool = True
    """False: the before-image was unknown and a safe default is restored ("not an exact undo")."""
    before: Any = None
    before_source: str = ""
    notes: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "calls": [c.to_json() for c in self.calls],
            "status": self.status,
            "exact": self.exact,
            "before": self.before,
            "before_source": self.before_source,
            "notes": list(self.notes),
        }

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> Undo:
        return cls(
            calls=tuple(Call.from_json(c) for c in d.get("calls") or []),
            status=str(d.get("status", "planned")),
            exact=bool(d.get("exact", True)),
            before=d.get("before"),
            before_source=str(d.get("before_source", "")),
            notes=tuple(str(n) for n in d.get("notes") or []),
        )


@dataclass(frozen=True, slots=True)
class Verdict:
    status: str
    """undone | present | lost | unknown"""
    detail: str

    def to_json(self) -> dict[str, str]:
        return {"status": self.status, "detail": self.detail}


def undone(detail: str) -> Verdict:
    return Verdict("undone", detail)


def present(detail: str) -> Verdict:
    return Verdict("present", detail)


Client = Callable[[str, str], Any]
"""``client(service, region)`` → a boto3 client made by :mod:`irkit.aws` (dry-run guard included)."""


@dataclass
class PlanContext:
    """What an inverse may consult: AWS (reads only while planning), the case, earlier events."""

    client: Client
    case_id: str
    account: str
    home_region: str
    options: Mapping[str, Any] = field(default_factory=dict)
    earlier: Callable[[Change, frozenset[str]], Sequence[Event]] = lambda _c, _n: ()
    """Successful events of these names on the change's resource, before it in the window, newest first."""

    def option(self, name: str, default: Any = None) -> Any:
        return self.options.get(name, default)


class Inverse(ABC):
    """The undo of one CloudTrail event name. Subclasses are registered by module name."""

    event: ClassVar[str]
    service: ClassVar[str]
    reversibility: ClassVar[Reversibility]
    permissions: ClassVar[tuple[str, ...]]
    """Every IAM action planning, applying and verifying needs (→ ``irkit permissions``)."""
    example: ClassVar[Mapping[str, Any]]
    """A real-shaped CloudTrail record of the event: the inverse's own test case."""
    covers: ClassVar[bool] = False
    """A creation: its undo also undoes every change whose ``owner`` is its ``key``."""
    cancelled_by: ClassVar[frozenset[str]] = frozenset()
    """Later events that delete what this one created: a create→delete chain needs no undo."""
    before_events: ClassVar[frozenset[str]] = frozenset()
    """Event names whose earlier occurrence in the window gives the before-image."""

    @abstractmethod
    def change(self, event: Event) -> Change | None:
        """The change the event made (pure), or None when the record does not say enough to undo it."""

    @abstractmethod
    def plan(self, change: Change, ctx: PlanContext) -> Undo:
        """The calls that undo ``change`` (reads allowed, never a write)."""

    @abstractmethod
    def verify(self, change: Change, ctx: PlanContext) -> Verdict:
        """Re-read the world: is the change still there?"""

    def snapshot(self, change: Change, ctx: PlanContext) -> Mapping[str, Any]:
        """The resource as it is just before the undo runs (saved in the case folder)."""
        return {}


# -- helpers for inverses ------------------------------------------------------------------------------


def text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def get(value: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value


def items(value: Any) -> list[Any]:
    """EC2's ``{"items": [...]}`` lists, plain lists, or nothing."""
    if isinstance(value, Mapping):
        value = value.get("items")
    return list(value) if isinstance(value, list) else []


def document(raw: Any) -> Any:
    """A policy document from a request (a JSON string, URL-encoded or not) or a structure."""
    if isinstance(raw, str):
        from urllib.parse import unquote

        body = raw if raw.lstrip().startswith("{") else unquote(raw)
        try:
            return json.loads(body)
        except ValueError:
            return None
    return raw if isinstance(raw, Mapping) else None


def make_change(
    event: Event,
    *,
    resource: str,
    key: str,
    params: Mapping[str, Any],
    match: Sequence[Sequence[str]] = (),
    owner: str = "",
    region: str | None = None,
) -> Change:
    account = str(event.raw.get("recipientAccountId") or event.account_id)
    return Change(
        event_id=event.event_id,
        event_name=event.event_name,
        event_time=format_time(event.event_time),
        region=region or event.region,
        account=account,
        actor=event.principal_arn,
        resource=resource,
        key=key,
        params=dict(params),
        match=tuple(tuple(str(v) for v in m) for m in match if m and all(m)),
        owner=owner,
    )


def error_code_of(exc: BaseException) -> str:
    return str(getattr(exc, "code", "") or "")
