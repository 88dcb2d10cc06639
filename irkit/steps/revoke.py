"""Contain the agent's own principals, first, before any log is read.

```yaml
- step: revoke
  with: {max_actions: 200}
```
For each IAM user: every access key → ``Inactive`` (never deleted: keys are evidence, and a key can
be re-activated by ``irkit restore``), an inline deny on ``aws:TokenIssueTime`` that kills the
temporary credentials derived from the user, the console login profile removed (its existence is
snapshotted). For each role: the ``AWSRevokeOlderSessions`` inline policy, the deny the console's
"Revoke active sessions" button writes. Every principal is snapshotted before it is touched.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from irkit.aws.session import aws_call
from irkit.config import Principal
from irkit.errors import AwsCallError
from irkit.gaps import Gap
from irkit.steps.base import Action, Option, Plan, RunContext, Step, StepResult, register

ROLE_POLICY = "AWSRevokeOlderSessions"
USER_POLICY = "irkit-revoke-older-sessions"

PROPAGATION_NOTE = (
    "Temporary credentials already issued stay valid until they expire; the aws:TokenIssueTime deny "
    "makes them useless now. IAM changes take a few seconds to propagate everywhere."
)


def deny_older_sessions(issued_before: datetime) -> dict[str, Any]:
    """The revoke-sessions policy: deny everything to credentials issued before ``issued_before``."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Deny",
                "Action": ["*"],
                "Resource": ["*"],
                "Condition": {
                    "DateLessThan": {"aws:TokenIssueTime": issued_before.strftime("%Y-%m-%dT%H:%M:%SZ")}
                },
            }
        ],
    }


@register
class Revoke(Step):
    name = "revoke"
    summary = "Deactivate the agent's keys, revoke its sessions, remove its console login."
    mutates = True
    permissions = (
        "iam:GetUser",
        "iam:GetRole",
        "iam:ListAccessKeys",
        "iam:GetLoginProfile",
        "iam:ListUserPolicies",
        "iam:GetUserPolicy",
        "iam:ListRolePolicies",
        "iam:GetRolePolicy",
        "iam:ListAttachedUserPolicies",
        "iam:ListAttachedRolePolicies",
        "iam:UpdateAccessKey",
        "iam:PutUserPolicy",
        "iam:PutRolePolicy",
        "iam:DeleteLoginProfile",
    )
    options = {"max_actions": Option(int, 200, "refuse to act when the plan has more actions than this")}

    def plan(self, ctx: RunContext) -> Plan:
        iam = ctx.aws.client("iam")
        actions: list[Action] = []
        gaps: list[Gap] = []
        for principal in ctx.agent.principals:
            try:
                actions.extend(self._plan_principal(iam, principal))
            except AwsCallError as exc:
                gaps.append(Gap(principal.arn, str(exc)))
        notes = [PROPAGATION_NOTE]
        if len(actions) > int(self.opts["max_actions"]):
            notes.append(
                f"plan has {len(actions)} actions, over max_actions={self.opts['max_actions']}: nothing will be applied"
            )
        return Plan(self.step_id, tuple(actions), tuple(notes), tuple(gaps))

    def _plan_principal(self, iam: Any, p: Principal) -> list[Action]:
        if p.kind == "role":
            aws_call("iam:GetRole", p.arn, lambda: iam.get_role(RoleName=p.name))
            return [Action("revoke-role-sessions", p.arn, f"inline policy {ROLE_POLICY}", {"role": p.name})]
        aws_call("iam:GetUser", p.arn, lambda: iam.get_user(UserName=p.name))
        keys = aws_call("iam:ListAccessKeys", p.arn, lambda: iam.list_access_keys(UserName=p.name))
        actions = [
            Action(
                "deactivate-access-key",
                p.arn,
                f"{k['AccessKeyId']} ({k['Status']} → Inactive)",
                {"user": p.name, "key_id": k["AccessKeyId"]},
            )
            for k in keys["AccessKeyMetadata"]
            if k["Status"] == "Active"
        ]
        actions.append(
            Action("deny-user-sessions", p.arn, f"inline policy {USER_POLICY} (aws:TokenIssueTime)", {"user": p.name})
        )
        if _has_login_profile(iam, p):
            actions.append(Action("delete-login-profile", p.arn, "console password removed", {"user": p.name}))
        return actions

    def apply(self, ctx: RunContext, plan: Plan) -> StepResult:
        if len(plan.actions) > int(self.opts["max_actions"]):
            gap = Gap(self.step_id, f"{len(plan.actions)} actions exceed max_actions={self.opts['max_actions']}")
            return StepResult("refused: too many actions", {"contained": []}, (gap,))
        iam = ctx.aws.client("iam")
        cutoff = datetime.now(UTC)
        rows: list[dict[str, Any]] = []
        gaps: list[Gap] = []
        for principal in ctx.agent.principals:
            try:
                snapshot = snapshot_principal(iam, principal)
                ctx.case.write_json(f"snapshots/{principal.kind}-{principal.name}.json", snapshot)
            except AwsCallError as exc:
                gaps.append(Gap(principal.arn, f"snapshot failed, principal left untouched: {exc}"))
                continue
            for action in (a for a in plan.actions if a.target == principal.arn):
                try:
                    ctx.act(self.step_id, action, lambda a=action: _execute(iam, a, cutoff))  # type: ignore[misc]
                    verified = _verify(iam, action)
                except AwsCallError as exc:
                    gaps.append(Gap(action.target, str(exc)))
                    verified = False
                rows.append(
                    {
                        "principal": action.target,
                        "credential": action.params.get("key_id") or action.detail,
                        "action": action.kind,
                        "verified": verified,
                        "time": datetime.now(UTC).isoformat(timespec="seconds"),
                    }
                )
        done = sum(1 for r in rows if r["verified"])
        return StepResult(
            f"{done}/{len(rows)} containment actions verified",
            {"contained": rows, "cutoff": cutoff.isoformat(timespec="seconds")},
            tuple(gaps),
        )


def _has_login_profile(iam: Any, p: Principal) -> bool:
    try:
        aws_call("iam:GetLoginProfile", p.arn, lambda: iam.get_login_profile(UserName=p.name))
    except AwsCallError as exc:
        if exc.code == "NoSuchEntity":
            return False
        raise
    return True


def _execute(iam: Any, action: Action, cutoff: datetime) -> None:
    p = action.params
    if action.kind == "deactivate-access-key":
        aws_call(
            "iam:UpdateAccessKey",
            action.target,
            lambda: iam.update_access_key(UserName=p["user"], AccessKeyId=p["key_id"], Status="Inactive"),
        )
    elif action.kind == "deny-user-sessions":
        doc = json.dumps(deny_older_sessions(cutoff))
        aws_call(
            "iam:PutUserPolicy",
            action.target,
            lambda: iam.put_user_policy(UserName=p["user"], PolicyName=USER_POLICY, PolicyDocument=doc),
        )
    elif action.kind == "delete-login-profile":
        aws_call("iam:DeleteLoginProfile", action.target, lambda: iam.delete_login_profile(UserName=p["user"]))
    elif action.kind == "revoke-role-sessions":
        doc = json.dumps(deny_older_sessions(cutoff))
        aws_call(
            "iam:PutRolePolicy",
            action.target,
            lambda: iam.put_role_policy(RoleName=p["role"], PolicyName=ROLE_POLICY, PolicyDocument=doc),
        )
    else:  # a plan edited by hand, or from a newer irkit
        raise AwsCallError(action.kind, action.target, "UnknownAction", "irkit does not know this action")


def _verify(iam: Any, action: Action) -> bool:
    """Re-read IAM: did the change take?"""
    p = action.params
    if action.kind == "deactivate-access-key":
        keys = iam.list_access_keys(UserName=p["user"])["AccessKeyMetadata"]
        return any(k["AccessKeyId"] == p["key_id"] and k["Status"] == "Inactive" for k in keys)
    if action.kind == "deny-user-sessions":
        return USER_POLICY in iam.list_user_policies(UserName=p["user"])["PolicyNames"]
    if action.kind == "revoke-role-sessions":
        return ROLE_POLICY in iam.list_role_policies(RoleName=p["role"])["PolicyNames"]
    if action.kind == "delete-login-profile":
        try:
            iam.get_login_profile(UserName=p["user"])
        except iam.exceptions.NoSuchEntityException:
            return True
        return False
    return False


def snapshot_principal(iam: Any, p: Principal) -> dict[str, Any]:
    """Everything about a principal that containment may change, read before it changes."""
    snap: dict[str, Any] = {"arn": p.arn, "kind": p.kind, "name": p.name, "taken_at": datetime.now(UTC).isoformat()}
    if p.kind == "user":
        user = aws_call("iam:GetUser", p.arn, lambda: iam.get_user(UserName=p.name))["User"]
        snap["tags"] = user.get("Tags", [])
        keys = aws_call("iam:ListAccessKeys", p.arn, lambda: iam.list_access_keys(UserName=p.name))
        snap["access_keys"] = [{"id": k["AccessKeyId"], "status": k["Status"]} for k in keys["AccessKeyMetadata"]]
        snap["login_profile"] = _has_login_profile(iam, p)
        names = aws_call("iam:ListUserPolicies", p.arn, lambda: iam.list_user_policies(UserName=p.name))
        snap["inline_policies"] = {
            n: iam.get_user_policy(UserName=p.name, PolicyName=n)["PolicyDocument"] for n in names["PolicyNames"]
        }
        attached = aws_call(
            "iam:ListAttachedUserPolicies", p.arn, lambda: iam.list_attached_user_policies(UserName=p.name)
        )
        snap["attached_policies"] = [a["PolicyArn"] for a in attached["AttachedPolicies"]]
    else:
        role = aws_call("iam:GetRole", p.arn, lambda: iam.get_role(RoleName=p.name))["Role"]
        snap["tags"] = role.get("Tags", [])
        snap["trust_policy"] = role.get("AssumeRolePolicyDocument")
        names = aws_call("iam:ListRolePolicies", p.arn, lambda: iam.list_role_policies(RoleName=p.name))
        snap["inline_policies"] = {
            n: iam.get_role_policy(RoleName=p.name, PolicyName=n)["PolicyDocument"] for n in names["PolicyNames"]
        }
        attached = aws_call(
            "iam:ListAttachedRolePolicies", p.arn, lambda: iam.list_attached_role_policies(RoleName=p.name)
        )
        snap["attached_policies"] = [a["PolicyArn"] for a in attached["AttachedPolicies"]]
    return snap
