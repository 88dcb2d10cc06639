"""What a containment step may touch, and why: the agent's inventory or a link of its credential chain.

A :class:`Target` is one IAM principal and the scope of what may be done to it. A principal the
agent's credentials *created* (a user, a role) is contained in full; a credential created for a
principal that existed before (an access key or a console password for someone else's user) is
contained alone, and the rest of that principal is left as it was.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from irkit.config import Principal

SERVICE_LINKED_PATH = "/aws-service-role/"


class Refused(Exception):
    """A principal irkit will not touch (service-linked, outside the inventory and the chain)."""

    def __init__(self, arn: str, reason: str) -> None:
        self.arn = arn
        self.reason = reason
        super().__init__(f"{arn}: {reason}")


@dataclass(frozen=True, slots=True)
class Target:
    principal: Principal
    origin: str = "inventory"
    """``inventory`` (listed in irkit.yaml) or ``chain`` (created or handed out by its credentials)."""
    full: bool = True
    """Contain every credential of the principal; otherwise only ``key_ids`` / ``login_profile``."""
    key_ids: frozenset[str] = frozenset()
    login_profile: bool = False
    role_sessions: bool = False
    """Revoke the role's sessions even when the role is not contained in full."""
    proof: tuple[str, ...] = field(default=())
    """Event ids that put the principal in the chain."""

    @property
    def arn(self) -> str:
        return self.principal.arn

    def to_json(self) -> dict[str, Any]:
        p = self.principal
        return {
            "arn": p.arn,
            "account": p.account,
            "kind": p.kind,
            "name": p.name,
            "origin": self.origin,
            "full": self.full,
            "key_ids": sorted(self.key_ids),
            "login_profile": self.login_profile,
            "role_sessions": self.role_sessions,
            "proof": list(self.proof),
        }

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> Target:
        return cls(
            Principal(str(d["arn"]), str(d["account"]), str(d["kind"]), str(d["name"])),
            origin=str(d.get("origin", "chain")),
            full=bool(d.get("full", True)),
            key_ids=frozenset(str(k) for k in d.get("key_ids", [])),
            login_profile=bool(d.get("login_profile", False)),
            role_sessions=bool(d.get("role_sessions", False)),
            proof=tuple(str(e) for e in d.get("proof", [])),
        )

    def merge(self, other: Target) -> Target:
        return replace(
            self,
            origin="inventory" if "inventory" in (self.origin, other.origin) else self.origin,
            full=self.full or other.full,
            key_ids=self.key_ids | other.key_ids,
            login_profile=self.login_profile or other.login_profile,
            role_sessions=self.role_sessions or other.role_sessions,
            proof=tuple(dict.fromkeys(self.proof + other.proof)),
        )


def merge_targets(targets: Iterable[Target]) -> list[Target]:
    """One target a principal, in first-seen order; scopes and proofs united."""
    merged: dict[str, Target] = {}
    for t in targets:
        merged[t.arn] = merged[t.arn].merge(t) if t.arn in merged else t
    return list(merged.values())


def principal_for(kind: str, account: str, name: str, path: str = "/") -> Principal:
    path = path if path.endswith("/") else path + "/"
    return Principal(arn=f"arn:aws:iam::{account}:{kind}{path}{name}", account=account, kind=kind, name=name)
