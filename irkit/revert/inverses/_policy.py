"""Attach/Put policy on a role or user: one shape, four events."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, ClassVar

from irkit.detect.event import Event
from irkit.revert.calls import read
from irkit.revert.inverses import _iam
from irkit.revert.model import (
    IRKIT_POLICIES,
    Call,
    Change,
    Inverse,
    PlanContext,
    Reversibility,
    Undo,
    Verdict,
    document,
    make_change,
    present,
    text,
    undone,
)


class _Principal(Inverse):
    kind: ClassVar[str]  # role | user
    service = "iam"

    @property
    def _name_key(self) -> str:
        return "RoleName" if self.kind == "role" else "UserName"

    def _exists(self, ctx: PlanContext, change: Change) -> bool:
        name = str(change.params["principal"])
        if self.kind == "role":
            return _iam.role_exists(ctx, change, name)
        return _iam.user_exists(ctx, change, name)

    def _arn(self, event: Event, name: str) -> str:
        account = str(event.raw.get("recipientAccountId") or event.account_id)
        return f"arn:aws:iam::{account}:{self.kind}/{name}"


class AttachPolicy(_Principal):
    reversibility = Reversibility.EXACT

    def change(self, event: Event) -> Change | None:
        name = text(event.request.get(f"{self.kind}Name"))
        policy = text(event.request.get("policyArn"))
        if not name or not policy:
            return None
        return make_change(
            event,
            resource=f"{self._arn(event, name)} ← {policy}",
            key=f"iam:{self.kind}:{name}:attached:{policy}",
            params={"principal": name, "policy_arn": policy},
            match=[[name, policy]],
            owner=f"iam:{self.kind}:{name}",
        )

    def _attached(self, ctx: PlanContext, change: Change) -> list[str]:
        name = str(change.params["principal"])
        if self.kind == "role":
            return _iam.attached_role(ctx, change, name)
        return _iam.attached_user(ctx, change, name)

    def plan(self, change: Change, ctx: PlanContext) -> Undo:
        if not self._exists(ctx, change):
            return Undo(status="nothing to do", notes=(f"the {self.kind} no longer exists",))
        policy = str(change.params["policy_arn"])
        if policy not in self._attached(ctx, change):
            return Undo(status="nothing to do", notes=(f"{policy} is no longer attached",))
        op = "iam:DetachRolePolicy" if self.kind == "role" else "iam:DetachUserPolicy"
        args = {self._name_key: change.params["principal"], "PolicyArn": policy}
        return Undo((Call(op, _iam.region(change, ctx), args, f"detach {policy}", _iam.GONE),))

    def verify(self, change: Change, ctx: PlanContext) -> Verdict:
        if not self._exists(ctx, change):
            return undone(f"the {self.kind} no longer exists")
        policy = str(change.params["policy_arn"])
        if policy in self._attached(ctx, change):
            return present(f"{policy} is still attached")
        return undone(f"{policy} detached")


class PutPolicy(_Principal):
    reversibility = Reversibility.BEFORE_IMAGE

    def change(self, event: Event) -> Change | None:
        name = text(event.request.get(f"{self.kind}Name"))
        policy = text(event.request.get("policyName"))
        if not name or not policy or policy in IRKIT_POLICIES:
            return None  # containment's own session-revoking policy is never undone
        return make_change(
            event,
            resource=f"{self._arn(event, name)} inline policy {policy}",
            key=f"iam:{self.kind}:{name}:policy:{policy}",
            params={"principal": name, "policy_name": policy},
            match=[[name, policy]],
            owner=f"iam:{self.kind}:{name}",
        )

    def _current(self, ctx: PlanContext, change: Change) -> Any:
        op = "iam:GetRolePolicy" if self.kind == "role" else "iam:GetUserPolicy"
        args = {self._name_key: change.params["principal"], "PolicyName": change.params["policy_name"]}
        got = read(ctx.client, op, _iam.region(change, ctx), change.resource, missing=_iam.GONE, **args)
        return None if got is None else document(got.get("PolicyDocument"))

    def _before(self, change: Change, ctx: PlanContext) -> tuple[Any, str, bool]:
        """(document or None for "did not exist", where it comes from, exact?)"""
        k = self.kind.capitalize()
        for event in ctx.earlier(change, self.before_events):
            if event.event_name == f"Put{k}Policy":
                doc = document(event.request.get("policyDocument"))
                if doc is not None:
                    return doc, f"earlier event {event.event_id}", True
            else:
                return None, f"deleted by earlier event {event.event_id}", True
        created = ctx.earlier(Change(**{**_fields(change), "key": change.owner}), frozenset({f"Create{k}"}))
        if created:
            return None, f"the {self.kind} was created in the window ({created[0].event_id})", True
        return None, "unknown (no earlier event in the window): the policy is deleted", False

    def plan(self, change: Change, ctx: PlanContext) -> Undo:
        if not self._exists(ctx, change):
            return Undo(status="nothing to do", notes=(f"the {self.kind} no longer exists",))
        before, source, exact = self._before(change, ctx)
        r = _iam.region(change, ctx)
        args: dict[str, Any] = {self._name_key: change.params["principal"], "PolicyName": change.params["policy_name"]}
        k = self.kind.capitalize()
        if before is not None:
            call = Call(
                f"iam:Put{k}Policy", r, args | {"PolicyDocument": json.dumps(before)}, "restore the earlier policy"
            )
            return Undo((call,), before=before, before_source=source)
        if self._current(ctx, change) is None:
            return Undo(status="nothing to do", notes=("the policy no longer exists",), before_source=source)
        notes = () if exact else ("not an exact undo: a policy of that name may have existed before the window",)
        call = Call(f"iam:Delete{k}Policy", r, args, f"delete inline policy {change.params['policy_name']}", _iam.GONE)
        return Undo((call,), exact=exact, before_source=source, notes=notes)

    def verify(self, change: Change, ctx: PlanContext) -> Verdict:
        if not self._exists(ctx, change):
            return undone(f"the {self.kind} no longer exists")
        before, _, _ = self._before(change, ctx)
        current = self._current(ctx, change)
        if current == before:
            return undone("policy restored" if before is not None else "policy deleted")
        return present("the inline policy differs from its before-image")

    def snapshot(self, change: Change, ctx: PlanContext) -> Mapping[str, Any]:
        return {"policy": self._current(ctx, change)} if self._exists(ctx, change) else {}


def _fields(change: Change) -> dict[str, Any]:
    return {name: getattr(change, name) for name in Change.__dataclass_fields__}
