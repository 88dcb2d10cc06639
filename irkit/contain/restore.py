"""Undo containment: return each principal to its snapshot.

What irkit changed is put back exactly: key status, irkit's deny policies removed (or the policy of
the same name that existed before put back), the trust policy from the snapshot, the ``irkit:case``
tag removed (or its earlier value restored). Two things are deliberately *not* done:

- A console password irkit removed is not re-created. IAM never reveals a password, so irkit could
  only invent a new one, and a password printed in a terminal or written in a case folder is a new
  secret to leak. The restore names the user; an administrator sets a new password
  (``aws iam create-login-profile --user-name U --password-reset-required ...``) through their
  usual channel. The restore exits 3 (done with gaps) to say so.
- Principals from the credential chain (users, keys, roles the stolen credentials created) stay
  contained unless ``include_chain`` is asked: re-opening an attacker's backdoor is never a default.

Anything else that differs from the snapshot (a policy attached since, say) is reported as drift and
left alone: restore undoes irkit's changes, not other people's.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import orjson

from irkit.aws.session import aws_call
from irkit.config import Principal
from irkit.contain.actions import IRKIT_POLICIES
from irkit.contain.snapshot import CASE_TAG, SNAPSHOT_PERMISSIONS, differences, take_snapshot
from irkit.core.case import Case
from irkit.core.journal import Journal
from irkit.core.plan import Action
from irkit.errors import AwsCallError
from irkit.gaps import Gap

RESTORE_PERMISSIONS = (
    *SNAPSHOT_PERMISSIONS,
    "iam:UpdateAccessKey",
    "iam:DeleteUserPolicy",
    "iam:DeleteRolePolicy",
    "iam:PutUserPolicy",
    "iam:PutRolePolicy",
    "iam:UpdateAssumeRolePolicy",
    "iam:TagUser",
    "iam:TagRole",
    "iam:UntagUser",
    "iam:UntagRole",
)

LOGIN_PROFILE_GAP = (
    "console password removed by containment is not re-created (IAM never reveals passwords and irkit "
    "will not invent and print one): an administrator sets a new one with --password-reset-required"
)
# Fields restore does not put back (by design, see the module docstring).
NOT_RESTORED = frozenset({"login_profile"})


@dataclass
class RestorePlan:
    actions: list[Action] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    gaps: list[Gap] = field(default_factory=list)
    principals: list[str] = field(default_factory=list)
    left_contained: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "actions": [a.to_json() for a in self.actions],
            "notes": self.notes,
            "gaps": [g.to_json() for g in self.gaps],
            "principals": self.principals,
            "left_contained": self.left_contained,
        }


@dataclass
class RestoreResult:
    plan: RestorePlan
    applied: list[dict[str, Any]] = field(default_factory=list)
    failed: list[Gap] = field(default_factory=list)
    remaining: dict[str, list[str]] = field(default_factory=dict)
    """Per principal, snapshot fields that still differ after the restore (login profile excluded)."""

    def to_json(self) -> dict[str, Any]:
        return {
            "plan": self.plan.to_json(),
            "applied": self.applied,
            "failed": [g.to_json() for g in self.failed],
            "remaining": self.remaining,
        }


def load_snapshots(case: Case, gaps: list[Gap] | None = None) -> list[tuple[dict[str, Any], Principal]]:
    """Every readable snapshot with its principal; a damaged one becomes a gap (restore it by hand)
    instead of stopping the restore of every other principal."""
    found: list[tuple[dict[str, Any], Principal]] = []
    for path in sorted(case.snapshots_dir.glob("*.json")):
        try:
            snap = orjson.loads(path.read_bytes())
            found.append((snap, principal_of(snap)))
        except (OSError, orjson.JSONDecodeError, KeyError, TypeError, IndexError, AttributeError):
            if gaps is not None:
                gaps.append(Gap(str(path), "damaged snapshot (not an irkit snapshot): this principal is not restored"))
    return found


def _explain_no_snapshots(case: Case, plan: RestorePlan) -> None:
    """"Nothing to change" must not hide a case whose containment did change things."""
    if case.meta.dry_run:
        plan.notes.append("the case was a dry run: containment changed nothing, so there is nothing to restore")
        return
    done = sum(1 for e in case.journal.entries() if e.get("kind") == "action.done")
    if done:
        plan.gaps.append(
            Gap(
                str(case.snapshots_dir),
                f"no snapshots, yet journal.jsonl records {done} completed containment action(s): "
                "restore those principals by hand (the journal's action.done entries name them)",
            )
        )
    else:
        plan.notes.append("no snapshots and no completed containment action: containment changed nothing")


def principal_of(snap: dict[str, Any]) -> Principal:
    arn = str(snap["arn"])
    return Principal(arn=arn, account=arn.split(":")[4], kind=str(snap["kind"]), name=str(snap["name"]))


def plan_restore(iam: Any, case: Case, *, include_chain: bool = False) -> RestorePlan:
    """Compare every snapshot with IAM now; the actions that undo irkit's changes (reads only)."""
    plan = RestorePlan()
    snapshots = load_snapshots(case, plan.gaps)
    if not snapshots and not plan.gaps:
        _explain_no_snapshots(case, plan)
    for snap, p in snapshots:
        if snap.get("origin") == "chain" and not include_chain:
            plan.left_contained.append(p.arn)
            continue
        try:
            now = take_snapshot(iam, p)
        except AwsCallError as exc:
            plan.gaps.append(
                Gap(f"{exc.action} on {exc.resource}", f"{exc.code}: cannot read it, not restored")
            )
            continue
        plan.principals.append(p.arn)
        plan.actions.extend(_principal_actions(p, snap, now, plan))
    if plan.left_contained:
        plan.notes.append(
            "left contained (created by the agent's credentials; delete them, or pass --include-chain): "
            + ", ".join(plan.left_contained)
        )
    return plan


def _principal_actions(
    p: Principal, snap: dict[str, Any], now: dict[str, Any], plan: RestorePlan
) -> list[Action]:
    actions: list[Action] = []
    kind_param = {"user": p.name} if p.kind == "user" else {"role": p.name}
    before_inline, now_inline = snap.get("inline_policies", {}), now.get("inline_policies", {})
    for name in sorted(IRKIT_POLICIES & (set(before_inline) | set(now_inline))):
        if name in now_inline and name not in before_inline:
            actions.append(Action("delete-inline-policy", p.arn, name, {**kind_param, "policy": name}))
        elif name in before_inline and now_inline.get(name) != before_inline[name]:
            doc = json.dumps(before_inline[name])
            actions.append(
                Action(
                    "put-inline-policy",
                    p.arn,
                    f"{name} as before",
                    {**kind_param, "policy": name, "document": doc},
                )
            )
    if p.kind == "role" and now.get("trust_policy") != snap.get("trust_policy"):
        doc = json.dumps(snap.get("trust_policy"))
        actions.append(
            Action(
                "restore-trust-policy",
                p.arn,
                "trust policy from the snapshot",
                {"role": p.name, "document": doc},
            )
        )
    if p.kind == "user":
        current = {k["id"]: k["status"] for k in now.get("access_keys", [])}
        for key in snap.get("access_keys", []):
            if key["id"] not in current:
                plan.gaps.append(Gap(p.arn, f"access key {key['id']} no longer exists: cannot be restored"))
            elif current[key["id"]] != key["status"]:
                actions.append(
                    Action(
                        "set-access-key-status",
                        p.arn,
                        f"{key['id']} ({current[key['id']]} → {key['status']})",
                        {"user": p.name, "key_id": key["id"], "status": key["status"]},
                    )
                )
        if snap.get("login_profile") is not None and now.get("login_profile") is None:
            plan.gaps.append(Gap(p.arn, LOGIN_PROFILE_GAP))
    before_tag, now_tag = snap.get("tags", {}).get(CASE_TAG), now.get("tags", {}).get(CASE_TAG)
    if before_tag != now_tag:
        if before_tag is None:
            actions.append(Action("untag-principal", p.arn, CASE_TAG, {"kind": p.kind, "name": p.name}))
        else:
            actions.append(
                Action(
                    "tag-principal",
                    p.arn,
                    f"{CASE_TAG}={before_tag}",
                    {"kind": p.kind, "name": p.name, "case": before_tag},
                )
            )
    handled = {"inline_policies", "trust_policy", "access_keys", "tags", *NOT_RESTORED}
    drift = [f for f in differences(snap, now) if f not in handled]
    drift += _unhandled(before_inline, now_inline, IRKIT_POLICIES, "inline policy")
    drift += _unhandled(snap.get("tags", {}), now.get("tags", {}), frozenset({CASE_TAG}), "tag")
    if drift:
        plan.notes.append(
            f"{p.arn}: changed since the snapshot, not by irkit, left alone: {', '.join(drift)}"
        )
    return actions


def _unhandled(before: dict[str, Any], now: dict[str, Any], ours: frozenset[str], what: str) -> list[str]:
    return [
        f"{what} {k}" for k in sorted(set(before) | set(now)) if k not in ours and before.get(k) != now.get(k)
    ]


def execute_restore(iam: Any, action: Action) -> None:
    p = action.params
    if action.kind == "delete-inline-policy":
        if "user" in p:
            aws_call(
                "iam:DeleteUserPolicy",
                action.target,
                lambda: iam.delete_user_policy(UserName=p["user"], PolicyName=p["policy"]),
            )
        else:
            aws_call(
                "iam:DeleteRolePolicy",
                action.target,
                lambda: iam.delete_role_policy(RoleName=p["role"], PolicyName=p["policy"]),
            )
    elif action.kind == "put-inline-policy":
        if "user" in p:
            aws_call(
                "iam:PutUserPolicy",
                action.target,
                lambda: iam.put_user_policy(
                    UserName=p["user"], PolicyName=p["policy"], PolicyDocument=p["document"]
                ),
            )
        else:
            aws_call(
                "iam:PutRolePolicy",
                action.target,
                lambda: iam.put_role_policy(
                    RoleName=p["role"], PolicyName=p["policy"], PolicyDocument=p["document"]
                ),
            )
    elif action.kind == "restore-trust-policy":
        aws_call(
            "iam:UpdateAssumeRolePolicy",
            action.target,
            lambda: iam.update_assume_role_policy(RoleName=p["role"], PolicyDocument=p["document"]),
        )
    elif action.kind == "set-access-key-status":
        aws_call(
            "iam:UpdateAccessKey",
            action.target,
            lambda: iam.update_access_key(UserName=p["user"], AccessKeyId=p["key_id"], Status=p["status"]),
        )
    elif action.kind == "untag-principal":
        if p["kind"] == "user":
            aws_call(
                "iam:UntagUser", action.target, lambda: iam.untag_user(UserName=p["name"], TagKeys=[CASE_TAG])
            )
        else:
            aws_call(
                "iam:UntagRole", action.target, lambda: iam.untag_role(RoleName=p["name"], TagKeys=[CASE_TAG])
            )
    elif action.kind == "tag-principal":
        tags = [{"Key": CASE_TAG, "Value": p["case"]}]
        if p["kind"] == "user":
            aws_call("iam:TagUser", action.target, lambda: iam.tag_user(UserName=p["name"], Tags=tags))
        else:
            aws_call("iam:TagRole", action.target, lambda: iam.tag_role(RoleName=p["name"], Tags=tags))
    else:
        raise AwsCallError(
            action.kind, action.target, "UnknownAction", "irkit does not know this restore action"
        )


def apply_restore(iam: Any, case: Case, plan: RestorePlan, journal: Journal) -> RestoreResult:
    """Carry out ``plan``, journaling each action, then re-read and compare with the snapshots."""
    result = RestoreResult(plan)
    for action in plan.actions:
        journal.append("restore.action.start", action=action.to_json())
        try:
            execute_restore(iam, action)
        except AwsCallError as exc:
            journal.append("restore.action.failed", action=action.to_json(), error=str(exc))
            result.failed.append(
                Gap(f"{exc.action} on {exc.resource}", f"{exc.code}: not restored ({action.kind})")
            )
            continue
        journal.append("restore.action.done", action=action.to_json())
        result.applied.append(action.to_json())
    for snap, p in load_snapshots(case):
        if p.arn not in plan.principals:
            continue
        try:
            now = take_snapshot(iam, p)
        except AwsCallError as exc:
            result.failed.append(
                Gap(f"{exc.action} on {exc.resource}", f"{exc.code}: cannot verify the restore")
            )
            continue
        diff = [f for f in differences(snap, now) if f not in NOT_RESTORED]
        if diff:
            result.remaining[p.arn] = diff
    return result
