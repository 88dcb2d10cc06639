"""Which events belong to the agent, and the credential chain its credentials grew.

An event is the agent's when its caller is one of the agent's principals (``userIdentity.arn`` for a
user, ``sessionContext.sessionIssuer.arn`` for a role session), or when it was made with a credential
or by a principal that the agent's own events created: an access key from ``CreateAccessKey``, a
session from ``AssumeRole``/``GetSessionToken``/``GetFederationToken`` (followed through
``responseElements.credentials.accessKeyId``), a user or role from ``CreateUser``/``CreateRole``.
Every answer says *how* the event was tied to the agent, so a responder can check it.

The same walk yields the **credential chain** (:class:`ChainLink`): what a second containment pass
must revoke (keys, users, roles, sessions, console passwords), and roles whose trust policy names
an outside account.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from irkit.detect.event import Event, format_time
from irkit.detect.policy import external_principals, load_document

LinkKind = Literal["user", "access_key", "role", "session", "login_profile"]

_ASSUMED = re.compile(r"^arn:aws[a-z-]*:sts::(\d{12}):assumed-role/([^/]+)/")
_ROLE = re.compile(r"^arn:aws[a-z-]*:iam::(\d{12}):role/(?:.*/)?([^/]+)$")
_SESSION_CALLS = frozenset(
    {"AssumeRole", "AssumeRoleWithSAML", "AssumeRoleWithWebIdentity", "GetSessionToken", "GetFederationToken"}
)
ALL_PRINCIPALS = "all principals analysed"
CHAIN_EVENTS = frozenset(
    {"CreateAccessKey", "CreateUser", "CreateRole", "UpdateAssumeRolePolicy", "CreateLoginProfile"}
    | {"UpdateLoginProfile"}
    | _SESSION_CALLS
)
"""The only calls from which :meth:`Attributor.observe` learns anything when not filtering."""


@dataclass(frozen=True, slots=True)
class ChainLink:
    """One credential or principal that the agent's credentials created or obtained."""

    kind: LinkKind
    identifier: str
    """An ARN (user, role, login profile's user) or an access key id (access key, session)."""
    name: str | None
    """The user or role name, when there is one."""
    parent: str
    """The principal or credential that created it."""
    event_id: str
    event_name: str
    event_time: datetime
    external_accounts: tuple[str, ...] = ()
    """For roles: outside accounts (or ``*``) that the trust policy lets assume it."""

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "identifier": self.identifier,
            "name": self.name,
            "parent": self.parent,
            "event_id": self.event_id,
            "event_name": self.event_name,
            "event_time": format_time(self.event_time),
            "external_accounts": list(self.external_accounts),
        }


def _get(value: object, *path: str) -> Any:
    for key in path:
        if type(value) is not dict and not isinstance(value, Mapping):  # decoded JSON: a dict, no ABC check
            return None
        value = value.get(key)
    return value


def _account(event: Event) -> str:
    recipient = event.raw.get("recipientAccountId")
    return str(recipient) if recipient else event.account_id


def role_key(arn: str) -> tuple[str, str] | None:
    """``(account, role name)`` of a role ARN or of an assumed-role session ARN."""
    m = _ROLE.match(arn) or _ASSUMED.match(arn)
    return (m.group(1), m.group(2)) if m else None


class Attributor:
    """Ties events to a set of principals and grows the credential chain, event by event.

    With ``principals=None`` every event is attributed (``ALL_PRINCIPALS``) and the chain is still
    built, for every principal.
    """

    def __init__(self, principals: Sequence[str] | None) -> None:
        self.filtering = principals is not None
        self._users: set[str] = set()
        self._roles: dict[tuple[str, str], str] = {}
        for arn in principals or ():
            key = role_key(arn)
            if key and ":role/" in arn:
                self._roles[key] = arn
            else:
                self._users.add(arn)
        self._keys: dict[str, str] = {}
        self._created_users: dict[str, str] = {}
        self._created_roles: dict[tuple[str, str], str] = {}
        self.chain: list[ChainLink] = []

    def merge(self, later: Attributor) -> None:
        """Fold in an unfiltered attributor fed the events read after this one's (another
        process's share of the files): unfiltered, only the chain is kept, in arrival order."""
        if self.filtering or later.filtering:
            raise ValueError("only unfiltered attribution merges (a filtered one depends on event order)")
        self.chain.extend(later.chain)

    # -- attribution -------------------------------------------------------------------------
    def attribute(self, event: Event) -> str | None:
        """How ``event`` belongs to the agent, or None when it does not."""
        if not self.filtering:
            return ALL_PRINCIPALS
        arn = event.principal_arn
        if arn in self._users:
            return "userIdentity.arn"
        issuer = event.issuer_arn
        if issuer is not None or arn.startswith("arn:aws:sts:"):
            key = role_key(issuer or arn)
            if key is not None:
                if key in self._roles:
                    return f"session of role {self._roles[key]}"
                created = self._created_roles.get(key)
                if created is not None:
                    return created
        created_user = self._created_users.get(arn)
        if created_user is not None:
            return created_user
        key_reason = self._keys.get(event.access_key_id) if event.access_key_id else None
        if key_reason is not None:
            return key_reason
        if event.event_name in _SESSION_CALLS:
            target = event.request.get("roleArn")
            if isinstance(target, str):
                key = role_key(target)
                if key is not None and key in self._created_roles:
                    return f"AssumeRole of a role the agent created ({target})"
        return None

    # -- learning ----------------------------------------------------------------------------
    def observe(self, event: Event, reason: str = "") -> list[str]:
        """Learn credentials and principals created by an attributed event.

        Returns identifiers (key ids, ARNs) that became attributable now, so a caller holding
        not-yet-attributed events can look them up again.
        """
        new: list[str] = []
        learn_key = self.filtering and not reason.startswith("AssumeRole of")
        if learn_key and event.access_key_id and event.access_key_id not in self._keys:
            # the agent's own long-lived key or session: its other uses are the agent's too
            self._keys[event.access_key_id] = f"access key {event.access_key_id} used by {event.actor}"
            new.append(event.access_key_id)
        if not event.succeeded:
            return new
        name = event.event_name
        parent = self._parent(event, reason)
        if name == "CreateAccessKey":
            key = _get(event.response, "accessKey", "accessKeyId")
            user = _get(event.response, "accessKey", "userName") or event.request.get("userName")
            if isinstance(key, str):
                if self.filtering:  # unfiltered, every event is attributed anyway: keep nothing
                    self._keys[key] = f"access key {key} created by {parent} ({event.event_id})"
                new.append(key)
                self._link("access_key", key, user, parent, event)
        elif name in _SESSION_CALLS:
            key = _get(event.response, "credentials", "accessKeyId")
            if isinstance(key, str):
                target = event.request.get("roleArn") or event.request.get("name")
                if self.filtering:  # unfiltered, every event is attributed anyway: keep nothing
                    self._keys[key] = f"session {key} from {name} by {parent} ({event.event_id})"
                new.append(key)
                self._link("session", key, str(target) if target else None, parent, event)
        elif name == "CreateUser":
            user = event.request.get("userName")
            arn = _get(event.response, "user", "arn") or (
                f"arn:aws:iam::{_account(event)}:user/{user}" if user else None
            )
            if isinstance(arn, str):
                if self.filtering:  # unfiltered, every event is attributed anyway: keep nothing
                    self._created_users[arn] = f"principal {arn} created by {parent} ({event.event_id})"
                new.append(arn)
                self._link("user", arn, user, parent, event)
        elif name == "CreateRole":
            role = event.request.get("roleName")
            arn = _get(event.response, "role", "arn") or (
                f"arn:aws:iam::{_account(event)}:role/{role}" if role else None
            )
            if isinstance(arn, str):
                key = role_key(arn)
                if key is not None and self.filtering:  # unfiltered: every event is attributed anyway
                    self._created_roles[key] = f"principal {arn} created by {parent} ({event.event_id})"
                new.append(arn)
                trust = load_document(event.request.get("assumeRolePolicyDocument"))
                self._link("role", arn, role, parent, event, external_principals(trust, _account(event)))
        elif name == "UpdateAssumeRolePolicy":
            role = event.request.get("roleName")
            outside = external_principals(load_document(event.request.get("policyDocument")), _account(event))
            if role and outside:
                arn = f"arn:aws:iam::{_account(event)}:role/{role}"
                self._link("role", arn, role, parent, event, outside)
        elif name in ("CreateLoginProfile", "UpdateLoginProfile"):
            user = event.request.get("userName") or event.principal_arn.rsplit("/", 1)[-1]
            self._link("login_profile", f"arn:aws:iam::{_account(event)}:user/{user}", user, parent, event)
        return new

    def _parent(self, event: Event, reason: str) -> str:
        """The credential when the event is the agent's through a key it made or obtained (so the
        containment side can trace the link to that key), else the calling principal."""
        if event.access_key_id and reason and self._keys.get(event.access_key_id) == reason:
            return event.access_key_id
        return event.principal_arn or event.actor

    def _link(
        self,
        kind: LinkKind,
        identifier: str,
        name: object,
        parent: str,
        event: Event,
        external: tuple[str, ...] = (),
    ) -> None:
        self.chain.append(
            ChainLink(
                kind=kind,
                identifier=identifier,
                name=str(name) if name else None,
                parent=parent,
                event_id=event.event_id,
                event_name=event.event_name,
                event_time=event.event_time,
                external_accounts=external,
            )
        )

    def lookup_keys(self, event: Event) -> tuple[str, ...]:
        """Identifiers under which a not-yet-attributed event may become attributable later:
        its access key, its user ARN, its role, and the role it asks to assume."""
        keys: list[str] = []
        if event.access_key_id:
            keys.append(event.access_key_id)
        if event.identity_type == "IAMUser" and event.principal_arn:
            keys.append(event.principal_arn)
        if event.issuer_arn:
            keys.append(event.issuer_arn)
        if event.event_name in _SESSION_CALLS:
            target = event.request.get("roleArn")
            if isinstance(target, str):
                keys.append(target)
        return tuple(keys)
