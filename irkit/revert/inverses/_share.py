"""Snapshot and AMI sharing: the accounts (or "all") an attribute change added, outside the account.

``SharingInverse`` is the one implementation behind ModifyImageAttribute and ModifySnapshotAttribute:
the two differ only in names (the id field, the attribute, the describe call and its answer's key) and
in the shape of the removing call, which each subclass builds.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Mapping
from typing import Any, ClassVar

from irkit.detect.event import Event
from irkit.revert.calls import read
from irkit.revert.model import (
    Call,
    Change,
    Inverse,
    PlanContext,
    Reversibility,
    Undo,
    Verdict,
    get,
    items,
    make_change,
    present,
    text,
    undone,
)


def added(request: Mapping[str, Any], attribute: str, account: str) -> tuple[list[str], bool]:
    """(outside accounts added, whether ``all`` (public) was added)."""
    users: list[str] = []
    public = False
    for entry in items(get(request, attribute, "add")):
        if not isinstance(entry, Mapping):
            continue
        if entry.get("group") == "all":
            public = True
        user = entry.get("userId")
        if isinstance(user, str) and user and user != account:
            users.append(user)
    return users, public


class SharingInverse(Inverse):
    """A launch/create-volume permission added for outside accounts → those accounts (and "all") removed."""

    reversibility = Reversibility.EXACT
    noun: ClassVar[str]
    """How the resource is named to a human: ``AMI``, ``snapshot``."""
    kind: ClassVar[str]
    """The change key's kind: ``image``, ``snapshot``."""
    id_field: ClassVar[str]
    """The request field holding the resource id: ``imageId``, ``snapshotId``."""
    id_param: ClassVar[str]
    """The API's parameter for that id: ``ImageId``, ``SnapshotId``."""
    attribute: ClassVar[str]
    """The request's permission attribute: ``launchPermission``, ``createVolumePermission``."""
    answer_key: ClassVar[str]
    """The describe call's list of permissions: ``LaunchPermissions``, ``CreateVolumePermissions``."""
    gone: ClassVar[tuple[str, ...]]
    """Error codes meaning the resource no longer exists."""

    @property
    def _describe(self) -> str:
        return f"ec2:Describe{self.event.removeprefix('Modify')}"

    def change(self, event: Event) -> Change | None:
        resource = text(event.request.get(self.id_field))
        account = str(event.raw.get("recipientAccountId") or event.account_id)
        users, public = added(event.request, self.attribute, account)
        if not resource or not (users or public):
            return None
        shared = ", ".join(users + (["all (public)"] if public else []))
        return make_change(
            event,
            resource=f"{self.noun} {resource} shared with {shared}",
            key=f"ec2:{self.kind}:{resource}",
            params={self.kind: resource, "users": users, "public": public},
            match=[[resource]],
        )

    def _shared(self, change: Change, ctx: PlanContext) -> tuple[list[str], bool] | None:
        args = {self.id_param: change.params[self.kind], "Attribute": self.attribute}
        got = read(ctx.client, self._describe, change.region, change.resource, missing=self.gone, **args)
        if got is None:
            return None
        perms = got.get(self.answer_key) or []
        users = [str(p["UserId"]) for p in perms if p.get("UserId") in change.params["users"]]
        return users, bool(change.params["public"]) and any(p.get("Group") == "all" for p in perms)

    @abstractmethod
    def removal(self, resource: str, users: list[str], public: bool) -> dict[str, object]:
        """The arguments of the ``Modify…Attribute`` call that takes the shares away."""

    def plan(self, change: Change, ctx: PlanContext) -> Undo:
        shared = self._shared(change, ctx)
        if shared is None or not (shared[0] or shared[1]):
            return Undo(status="nothing to do", notes=(f"no longer shared (or the {self.kind} is gone)",))
        args = self.removal(change.params[self.kind], *shared)
        return Undo((Call(f"ec2:{self.event}", change.region, args, "stop sharing", self.gone),))

    def verify(self, change: Change, ctx: PlanContext) -> Verdict:
        shared = self._shared(change, ctx)
        if shared is None:
            return undone(f"the {self.kind} no longer exists")
        users, public = shared
        if users or public:
            return present(f"still shared with {', '.join(users + (['all'] if public else []))}")
        return undone("no longer shared outside the account")
