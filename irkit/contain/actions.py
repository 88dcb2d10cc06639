"""Containment actions: planned from a read of IAM, executed one call each, verified by re-reading.

Kinds (``Action.kind``), each undone by :mod:`irkit.contain.restore` from the snapshot:

| kind                    | call                             | undo                                  |
|-------------------------|----------------------------------|---------------------------------------|
| deactivate-access-key   | iam:UpdateAccessKey Inactive     | UpdateAccessKey back to its status    |
| deny-user-sessions      | iam:PutUserPolicy (TokenIssueTime) | DeleteUserPolicy                    |
| delete-login-profile    | iam:DeleteLoginProfile           | none: an admin resets the password    |
| revoke-role-sessions    | iam:PutRolePolicy AWSRevokeOlderSessions | DeleteRolePolicy              |
| lock-trust-policy       | iam:UpdateAssumeRolePolicy deny-all | UpdateAssumeRolePolicy (snapshot)  |
| tag-principal           | iam:TagUser / iam:TagRole irkit:case | UntagUser / UntagRole             |
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from irkit.aws.session import aws_call
from irkit.contain.calls import together
from irkit.contain.snapshot import CASE_TAG, login_profile, policy_doc
from irkit.contain.targets import SERVICE_LINKED_PATH, Refused, Target
from irkit.core.plan import Action
from irkit.errors import AwsCallError

ROLE_POLICY = "AWSRevokeOlderSessions"
USER_POLICY = "irkit-revoke-older-sessions"
IRKIT_POLICIES = frozenset({ROLE_POLICY, USER_POLICY})
LOCK_SID = "IrkitContainmentDenyAll"

PROPAGATION_NOTE = (
    "Temporary (STS) credentials already issued stay valid until they expire; the aws:TokenIssueTime "
    "deny policies make them useless now. IAM changes take a few seconds to propagate everywhere."
)
TRUST_NOTE = (
    "Locked roles trust nobody: no new session can be issued, instance profiles included (EC2 cannot "
    "refresh their credentials). `irkit restore CASE` puts each trust policy back from its snapshot."
)

MUTATING_PERMISSIONS = (
    "iam:UpdateAccessKey",
    "iam:PutUserPolicy",
    "iam:PutRolePolicy",
    "iam:DeleteLoginProfile",
    "iam:UpdateAssumeRolePolicy",
    "iam:TagUser",
    "iam:TagRole",
)

# The order a principal's actions run in: the credentials an attacker is using right now first.
ORDER = (
    "deactivate-access-key",
    "deny-user-sessions",
    "revoke-role-sessions",
    "lock-trust-policy",
    "delete-login-profile",
    "tag-principal",
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


def locked_trust_policy() -> dict[str, Any]:
    """A trust policy that lets nobody assume the role: no Allow, and an explicit Deny to everyone."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": LOCK_SID,
                "Effect": "Deny",
                "Principal": {"AWS": "*"},
                "Action": ["sts:AssumeRole", "sts:AssumeRoleWithSAML", "sts:AssumeRoleWithWebIdentity"],
            }
        ],
    }


def is_locked(doc: Any) -> bool:
    doc = policy_doc(doc)
    if not isinstance(doc, dict):
        return False
    statements = doc.get("Statement", [])
    statements = statements if isinstance(statements, list) else [statements]
    return bool(statements) and all(s.get("Effect") == "Deny" for s in statements if isinstance(s, dict))


@dataclass(frozen=True, slots=True)
class TargetPlan:
    target: Target
    actions: tuple[Action, ...]
    facts: dict[str, Any] = field(default_factory=dict)
    """What the responder must know but irkit does not change (MFA devices, instance profiles)."""


def plan_target(iam: Any, target: Target, *, case_id: str, lock_trust: bool = True) -> TargetPlan:
    """Read IAM and return the actions that contain ``target`` (reads only, side by side)."""
    p = target.principal
    if p.kind == "role":
        role, profiles = together(
            lambda: aws_call("iam:GetRole", p.arn, lambda: iam.get_role(RoleName=p.name))["Role"],
            lambda: aws_call(
                "iam:ListInstanceProfilesForRole",
                p.arn,
                lambda: iam.list_instance_profiles_for_role(RoleName=p.name),
            )["InstanceProfiles"],
        )
        if str(role.get("Path", "/")).startswith(SERVICE_LINKED_PATH):
            raise Refused(p.arn, "service-linked role: AWS owns it, irkit never touches it")
        return _plan_role(iam, target, role, case_id=case_id, lock_trust=lock_trust, profiles=profiles)
    return _plan_user(iam, target, case_id=case_id)


def _tag(target: Target, case_id: str) -> Action:
    p = target.principal
    return Action(
        "tag-principal", p.arn, f"{CASE_TAG}={case_id}", {"kind": p.kind, "name": p.name, "case": case_id}
    )


def _plan_user(iam: Any, target: Target, *, case_id: str) -> TargetPlan:
    p = target.principal
    wants_login = target.full or target.login_profile
    _user, keys, profile, mfa = together(
        lambda: aws_call("iam:GetUser", p.arn, lambda: iam.get_user(UserName=p.name)),
        lambda: aws_call("iam:ListAccessKeys", p.arn, lambda: iam.list_access_keys(UserName=p.name))[
            "AccessKeyMetadata"
        ],
        lambda: login_profile(iam, p) if wants_login else None,
        lambda: aws_call("iam:ListMFADevices", p.arn, lambda: iam.list_mfa_devices(UserName=p.name))["MFADevices"],
    )
    # Keys first: they are the credentials an attacker holds and uses right now.
    actions = [
        Action(
            "deactivate-access-key",
            p.arn,
            f"{k['AccessKeyId']} ({k['Status']} → Inactive)",
            {"user": p.name, "key_id": k["AccessKeyId"]},
        )
        for k in keys
        if k["Status"] == "Active" and (target.full or k["AccessKeyId"] in target.key_ids)
    ]
    facts: dict[str, Any] = {}
    missing = sorted(target.key_ids - {k["AccessKeyId"] for k in keys})
    if missing:
        facts["missing_keys"] = missing
    if target.full:
        actions.append(
            Action(
                "deny-user-sessions",
                p.arn,
                f"inline policy {USER_POLICY} (aws:TokenIssueTime)",
                {"user": p.name},
            )
        )
    if wants_login and profile is not None:
        actions.append(Action("delete-login-profile", p.arn, "console password removed", {"user": p.name}))
    facts["mfa_devices"] = sorted(str(d["SerialNumber"]) for d in mfa)
    actions.append(_tag(target, case_id))
    return TargetPlan(target, tuple(actions), facts)


def _plan_role(
    iam: Any,
    target: Target,
    role: dict[str, Any],
    *,
    case_id: str,
    lock_trust: bool,
    profiles: list[dict[str, Any]] | None = None,
) -> TargetPlan:
    p = target.principal
    actions = [Action("revoke-role-sessions", p.arn, f"inline policy {ROLE_POLICY}", {"role": p.name})]
    trust = policy_doc(role.get("AssumeRolePolicyDocument"))
    if target.full and lock_trust and not is_locked(trust):
        outside = external_principals(trust, p.account)
        detail = "trust policy → deny all (saved in the snapshot)"
        if outside:
            detail += f"; removes trust in {', '.join(outside)}"
        actions.append(Action("lock-trust-policy", p.arn, detail, {"role": p.name}))
    if profiles is None:
        profiles = aws_call(
            "iam:ListInstanceProfilesForRole",
            p.arn,
            lambda: iam.list_instance_profiles_for_role(RoleName=p.name),
        )["InstanceProfiles"]
    facts = {
        "instance_profiles": sorted(str(ip["Arn"]) for ip in profiles),
        "trusted_principals": trusted_principals(trust),
    }
    actions.append(_tag(target, case_id))
    return TargetPlan(target, tuple(actions), facts)


def trusted_principals(trust: Any) -> list[str]:
    """Every principal an Allow statement of a trust policy names (``"*"`` included)."""
    out: list[str] = []
    if not isinstance(trust, dict):
        return out
    statements = trust.get("Statement", [])
    for s in statements if isinstance(statements, list) else [statements]:
        if not isinstance(s, dict) or s.get("Effect") != "Allow":
            continue
        principal = s.get("Principal", {})
        if principal == "*":
            out.append("*")
            continue
        if isinstance(principal, dict):
            for value in principal.values():
                out.extend(str(v) for v in (value if isinstance(value, list) else [value]))
    return sorted(set(out))


def external_principals(trust: Any, account: str) -> list[str]:
    """Trusted AWS principals outside ``account`` (other accounts, or anyone)."""
    ext = []
    for pr in trusted_principals(trust):
        if (
            pr == "*"
            or (pr.isdigit() and pr != account)
            or (pr.startswith("arn:") and f":{account}:" not in pr)
        ):
            ext.append(pr)
    return ext


def execute(iam: Any, action: Action, cutoff: datetime) -> None:
    """Make the one AWS call ``action`` stands for."""
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
        aws_call(
            "iam:DeleteLoginProfile", action.target, lambda: iam.delete_login_profile(UserName=p["user"])
        )
    elif action.kind == "revoke-role-sessions":
        doc = json.dumps(deny_older_sessions(cutoff))
        aws_call(
            "iam:PutRolePolicy",
            action.target,
            lambda: iam.put_role_policy(RoleName=p["role"], PolicyName=ROLE_POLICY, PolicyDocument=doc),
        )
    elif action.kind == "lock-trust-policy":
        doc = json.dumps(locked_trust_policy())
        aws_call(
            "iam:UpdateAssumeRolePolicy",
            action.target,
            lambda: iam.update_assume_role_policy(RoleName=p["role"], PolicyDocument=doc),
        )
    elif action.kind == "tag-principal":
        tags = [{"Key": CASE_TAG, "Value": p["case"]}]
        if p["kind"] == "user":
            aws_call("iam:TagUser", action.target, lambda: iam.tag_user(UserName=p["name"], Tags=tags))
        else:
            aws_call("iam:TagRole", action.target, lambda: iam.tag_role(RoleName=p["name"], Tags=tags))
    else:  # a plan edited by hand, or written by a newer irkit
        raise AwsCallError(action.kind, action.target, "UnknownAction", "irkit does not know this action")


def verify(iam: Any, action: Action) -> bool:
    """Re-read IAM: does the change hold now?"""
    p = action.params
    if action.kind == "deactivate-access-key":
        keys = aws_call("iam:ListAccessKeys", action.target, lambda: iam.list_access_keys(UserName=p["user"]))
        return any(
            k["AccessKeyId"] == p["key_id"] and k["Status"] == "Inactive" for k in keys["AccessKeyMetadata"]
        )
    if action.kind == "deny-user-sessions":
        names = aws_call(
            "iam:ListUserPolicies", action.target, lambda: iam.list_user_policies(UserName=p["user"])
        )
        return USER_POLICY in names["PolicyNames"]
    if action.kind == "revoke-role-sessions":
        names = aws_call(
            "iam:ListRolePolicies", action.target, lambda: iam.list_role_policies(RoleName=p["role"])
        )
        return ROLE_POLICY in names["PolicyNames"]
    if action.kind == "delete-login-profile":
        from irkit.config import Principal

        user = Principal(action.target, "", "user", p["user"])
        return login_profile(iam, user) is None
    if action.kind == "lock-trust-policy":
        role = aws_call("iam:GetRole", action.target, lambda: iam.get_role(RoleName=p["role"]))["Role"]
        return is_locked(role.get("AssumeRolePolicyDocument"))
    if action.kind == "tag-principal":
        if p["kind"] == "user":
            tags = aws_call("iam:ListUserTags", action.target, lambda: iam.list_user_tags(UserName=p["name"]))
        else:
            tags = aws_call("iam:ListRoleTags", action.target, lambda: iam.list_role_tags(RoleName=p["name"]))
        return any(t["Key"] == CASE_TAG and t["Value"] == p["case"] for t in tags["Tags"])
    return False


def credential_of(action: Action) -> str:
    """What the containment table shows in its credential column."""
    p = action.params
    return {
        "deactivate-access-key": str(p.get("key_id", "")),
        "deny-user-sessions": "temporary credentials (STS sessions)",
        "revoke-role-sessions": "role sessions (STS)",
        "lock-trust-policy": "trust policy (new sessions)",
        "delete-login-profile": "console password",
        "tag-principal": CASE_TAG,
    }.get(action.kind, action.detail)
