"""UpdateAssumeRolePolicy → the trust policy an earlier event in the window set (CreateRole or an
earlier update), else a trust policy that allows nobody (the safe default, "not an exact undo").
A role containment has locked stays locked: its before-image is recorded for the responder, because
``irkit restore`` would put back the trust policy of its snapshot — the attacker's."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from irkit.detect.event import Event
from irkit.revert.inverses import _iam
from irkit.revert.inverses._record import OUTSIDE, record
from irkit.revert.model import (
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

_TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{OUTSIDE}:root"}, "Action": "sts:AssumeRole"}
    ],
}


class UpdateAssumeRolePolicy(Inverse):
    event = "UpdateAssumeRolePolicy"
    service = "iam"
    reversibility = Reversibility.BEFORE_IMAGE
    permissions = ("iam:GetRole", "iam:UpdateAssumeRolePolicy")
    before_events = frozenset({"UpdateAssumeRolePolicy", "CreateRole"})
    example = record(
        "iam", "UpdateAssumeRolePolicy", {"roleName": "agent-infra-optimizer", "policyDocument": json.dumps(_TRUST)}
    )

    def change(self, event: Event) -> Change | None:
        role = text(event.request.get("roleName"))
        if not role:
            return None
        account = str(event.raw.get("recipientAccountId") or event.account_id)
        arn = f"arn:aws:iam::{account}:role/{role}"
        doc = document(event.request.get("policyDocument"))
        return make_change(
            event,
            resource=f"{arn} trust policy",
            key=f"iam:role:{role}",
            params={"role": role, "attacker_trust": doc},
            match=[[arn]],
            owner=f"iam:role:{role}",
        )

    def _before(self, change: Change, ctx: PlanContext) -> tuple[Any, str, bool]:
        for event in ctx.earlier(change, self.before_events):
            raw = event.request.get(
                "policyDocument" if event.event_name == "UpdateAssumeRolePolicy" else "assumeRolePolicyDocument"
            )
            doc = document(raw)
            if doc is not None:
                return doc, f"earlier event {event.event_name} {event.event_id}", True
        return _iam.DENY_ALL_TRUST, "safe default: a trust policy that allows nobody", False

    def plan(self, change: Change, ctx: PlanContext) -> Undo:
        role = str(change.params["role"])
        if not _iam.role_exists(ctx, change, role):
            return Undo(status="nothing to do", notes=("the role no longer exists",))
        before, source, exact = self._before(change, ctx)
        current = _iam.trust_of(ctx, change, role)
        if current == before:
            return Undo(status="nothing to do", before=before, before_source=source)
        if _iam.is_locked(current) and not _iam.is_locked(before):
            note = (
                "containment has locked this role: it stays locked. Its snapshot holds the attacker's trust policy:"
                " before `irkit restore`, put back this before-image instead"
            )
            return Undo(status="nothing to do", before=before, before_source=source, exact=exact, notes=(note,))
        call = Call(
            "iam:UpdateAssumeRolePolicy",
            _iam.region(change, ctx),
            {"RoleName": role, "PolicyDocument": json.dumps(before)},
            "restore the trust policy",
            _iam.GONE,
        )
        notes = () if exact else ("not an exact undo: the trust policy before the window is unknown",)
        return Undo((call,), exact=exact, before=before, before_source=source, notes=notes)

    def verify(self, change: Change, ctx: PlanContext) -> Verdict:
        role = str(change.params["role"])
        if not _iam.role_exists(ctx, change, role):
            return undone("the role no longer exists")
        before, _, _ = self._before(change, ctx)
        current = _iam.trust_of(ctx, change, role)
        if current == before:
            return undone("trust policy restored")
        if _iam.is_locked(current):
            return undone("trust policy locked (allows nobody)")
        return present("the trust policy differs from its before-image")

    def snapshot(self, change: Change, ctx: PlanContext) -> Mapping[str, Any]:
        return {"trust_policy": _iam.trust_of(ctx, change, str(change.params["role"]))}


INVERSE = UpdateAssumeRolePolicy()
