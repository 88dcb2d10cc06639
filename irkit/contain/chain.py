"""The credential chain: what the agent's credentials created or handed out, turned into targets.

Detection (:mod:`irkit.detect.analyzer`) hands over links ``{kind, identifier, name, parent, event_id,
event_name, event_time, external_accounts}``. A link is only acted on when its ``parent`` leads back
to the agent's inventory through other accepted links: a chain entry that cannot be traced to the
agent is refused (and named as a gap), so a wrong detection can never make irkit lock out a stranger.

What each kind becomes:

- ``user`` (CreateUser): the user contained in full (keys, sessions, console login).
- ``access_key`` (CreateAccessKey): that key deactivated; its user is contained in full only if the
  user itself is in the chain.
- ``login_profile`` (CreateLoginProfile / UpdateLoginProfile): that console password removed.
- ``role`` (CreateRole): sessions revoked and trust locked (external trust removed).
- ``session`` (AssumeRole): the sessions of the role it came from revoked, when that role is in the
  inventory or the chain; a session on any other role is refused and named.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field, is_dataclass
from typing import Any

from irkit.config import AgentSettings, Principal
from irkit.contain.targets import Target, principal_for

_IAM_ARN = re.compile(r"^arn:aws[a-z-]*:iam::(\d{12}):(user|role)(/.*)?/([^/]+)$")
_SESSION_ARN = re.compile(r"^arn:aws[a-z-]*:sts::(\d{12}):assumed-role/([^/]+)/(.+)$")
KINDS = ("user", "access_key", "login_profile", "role", "session")


@dataclass(frozen=True, slots=True)
class Link:
    kind: str
    identifier: str
    name: str | None = None
    parent: str | None = None
    event_id: str = ""
    event_name: str = ""
    event_time: str = ""
    external_accounts: tuple[str, ...] = ()

    @property
    def key(self) -> tuple[str, str]:
        return (self.kind, self.identifier)

    @classmethod
    def of(cls, raw: Any) -> Link:
        """From the detect step's dict or from an analyzer ``ChainLink`` dataclass."""
        data: Mapping[str, Any] = asdict(raw) if is_dataclass(raw) and not isinstance(raw, type) else raw
        when = data.get("event_time") or ""
        return cls(
            kind=str(data.get("kind", "")),
            identifier=str(data.get("identifier", "")),
            name=str(data["name"]) if data.get("name") else None,
            parent=str(data["parent"]) if data.get("parent") else None,
            event_id=str(data.get("event_id") or ""),
            event_name=str(data.get("event_name") or ""),
            event_time=when.isoformat() if hasattr(when, "isoformat") else str(when),
            external_accounts=tuple(str(a) for a in data.get("external_accounts") or ()),
        )

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["external_accounts"] = list(self.external_accounts)
        return out


@dataclass
class Resolution:
    targets: list[Target] = field(default_factory=list)
    accepted: list[Link] = field(default_factory=list)
    refused: list[tuple[Link, str]] = field(default_factory=list)
    skipped: list[tuple[Link, str]] = field(default_factory=list)
    """Accepted links that need no action here (the inventory is contained by ``revoke``)."""
    link_targets: dict[tuple[str, str], Target] = field(default_factory=dict)
    """Accepted link → what must hold for it to be contained (its own scope, not the merged one)."""


class ChainResolver:
    """Decides, link by link, whether it descends from the agent and what to contain for it.

    ``key_owner`` maps an access key id to its user name (``iam:GetAccessKeyLastUsed``) when a link
    does not say; it is injected so that this class never calls AWS itself.
    """

    def __init__(
        self,
        agent: AgentSettings,
        *,
        agent_keys: Iterable[str] = (),
        key_owner: Callable[[str], str | None] = lambda _key: None,
    ) -> None:
        self.agent = agent
        self.account = agent.account
        self.inventory = {p.arn: p for p in agent.principals}
        self.key_owner = key_owner
        self._roots: set[str] = set(self.inventory) | set(agent_keys)
        self._session_roles: set[str] = {p.name for p in agent.principals if p.kind == "role"}
        self._chain_roles: set[str] = set()
        self.seen: dict[tuple[str, str], Link] = {}

    def rooted(self, parent: str | None) -> bool:
        if not parent:
            return False
        if parent in self._roots:
            return True
        m = _SESSION_ARN.match(parent)
        return bool(m and m.group(2) in self._session_roles)

    def _accept(self, link: Link, principal: Principal | None) -> None:
        self._roots.add(link.identifier)
        if principal is not None:
            self._roots.add(principal.arn)
            if principal.kind == "role":
                self._session_roles.add(principal.name)
                self._chain_roles.add(principal.name)

    def resolve(self, raw_links: Iterable[Any]) -> Resolution:
        """Accept what descends from the agent (to a fixpoint: order does not matter)."""
        res = Resolution()
        pending = [Link.of(r) for r in raw_links]
        pending = [link for link in pending if link.key not in self.seen]
        progress = True
        while pending and progress:
            progress = False
            for link in list(pending):
                if not self.rooted(link.parent):
                    continue
                pending.remove(link)
                progress = True
                self.seen[link.key] = link
                self._place(link, res)
        for link in pending:
            self.seen[link.key] = link
            why = (
                "no parent recorded"
                if not link.parent
                else f"parent {link.parent} does not lead back to the agent"
            )
            res.refused.append(
                (link, f"not provably created by the agent's credentials ({why}): left untouched")
            )
        return res

    def _place(self, link: Link, res: Resolution) -> None:
        if link.kind not in KINDS:
            res.refused.append((link, f"unknown chain link kind {link.kind!r}: left untouched"))
            return
        proof = (link.event_id,) if link.event_id else ()
        if link.kind == "session":
            role = self._session_role(link)
            self._roots.add(link.identifier)
            if role is None:
                res.refused.append((link, "session of an unknown role: left untouched"))
            elif role.arn in self.inventory:
                res.accepted.append(link)
                res.skipped.append((link, f"sessions of {role.arn} are revoked by the revoke step"))
                res.link_targets[link.key] = Target(
                    self.inventory[role.arn], origin="inventory", full=False, role_sessions=True, proof=proof
                )
            elif role.name in self._chain_roles:
                res.accepted.append(link)
                target = Target(role, origin="chain", full=False, role_sessions=True, proof=proof)
                res.targets.append(target)
                res.link_targets[link.key] = target
            else:
                res.refused.append(
                    (
                        link,
                        f"session of {role.arn}, a role neither in the inventory nor in the chain: its "
                        "sessions are left untouched (revoke them by hand if the role is the agent's); "
                        "what the session created is still followed",
                    )
                )
            return
        principal = self._principal(link)
        if principal is None:
            res.refused.append(
                (link, "cannot tell which principal this credential belongs to: left untouched")
            )
            return
        self._accept(link, principal)
        res.accepted.append(link)
        if link.kind in ("user", "role"):
            target = Target(principal, origin="chain", full=True, proof=proof)
        elif link.kind == "access_key":
            target = Target(
                principal, origin="chain", full=False, key_ids=frozenset({link.identifier}), proof=proof
            )
        else:  # login_profile
            target = Target(principal, origin="chain", full=False, login_profile=True, proof=proof)
        if principal.arn in self.inventory:
            res.skipped.append((link, f"{principal.arn} is in the inventory: contained by the revoke step"))
            res.link_targets[link.key] = Target(
                self.inventory[principal.arn],
                origin="inventory",
                full=target.full,
                key_ids=target.key_ids,
                login_profile=target.login_profile,
                proof=proof,
            )
            return
        res.targets.append(target)
        res.link_targets[link.key] = target

    def _principal(self, link: Link) -> Principal | None:
        m = _IAM_ARN.match(link.identifier)
        if m:
            kind = m.group(2)
            return Principal(arn=link.identifier, account=m.group(1), kind=kind, name=m.group(4))
        kind = {"user": "user", "role": "role", "access_key": "user", "login_profile": "user"}[link.kind]
        name = link.name
        if link.kind == "access_key" and not name:
            name = self.key_owner(link.identifier)
        if not name:
            return None
        return principal_for(kind, self.account, name)

    def _session_role(self, link: Link) -> Principal | None:
        for candidate in (link.identifier, link.name or ""):
            m = _SESSION_ARN.match(candidate)
            if m:
                return principal_for("role", m.group(1), m.group(2))
            m2 = _IAM_ARN.match(candidate)
            if m2 and m2.group(2) == "role":
                return Principal(candidate, m2.group(1), "role", m2.group(4))
        if link.name:
            return principal_for("role", self.account, link.name)
        return None

    def principals(self) -> list[str]:
        """Everything accepted so far, as the identifiers a re-analysis should follow."""
        return sorted(self._roots)
