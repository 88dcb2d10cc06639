"""A principal's full configuration, read before containment touches it.

The snapshot is what ``irkit restore`` returns the principal to, and what the restore test compares
against: every field containment can change is here, plus what a responder needs to know (MFA
devices, instance profiles, attached policies).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote

import orjson

from irkit.aws.session import aws_call
from irkit.config import Principal
from irkit.contain.calls import together
from irkit.errors import AwsCallError

CASE_TAG = "irkit:case"

# Fields that change by the mere act of reading, or that restore cannot bring back by design.
VOLATILE = frozenset({"taken_at", "origin", "case_id", "proof"})

SNAPSHOT_PERMISSIONS = (
    "iam:GetUser",
    "iam:GetRole",
    "iam:ListAccessKeys",
    "iam:GetLoginProfile",
    "iam:ListMFADevices",
    "iam:ListUserPolicies",
    "iam:GetUserPolicy",
    "iam:ListRolePolicies",
    "iam:GetRolePolicy",
    "iam:ListAttachedUserPolicies",
    "iam:ListAttachedRolePolicies",
    "iam:ListUserTags",
    "iam:ListRoleTags",
    "iam:ListInstanceProfilesForRole",
)


def snapshot_file(p: Principal) -> str:
    """Where a principal's snapshot lives in the case folder."""
    return f"snapshots/{p.kind}-{p.name}.json"


def policy_doc(raw: Any) -> Any:
    """A policy document as a structure, whatever shape the API (or moto) returned it in."""
    if isinstance(raw, str):
        text = raw if raw.lstrip().startswith("{") else unquote(raw)
        try:
            return orjson.loads(text)
        except orjson.JSONDecodeError:
            return text
    return raw


def login_profile(iam: Any, p: Principal) -> dict[str, Any] | None:
    """The user's console login profile (never a password: IAM does not return one), or None."""
    try:
        prof = aws_call("iam:GetLoginProfile", p.arn, lambda: iam.get_login_profile(UserName=p.name))
    except AwsCallError as exc:
        if exc.code == "NoSuchEntity":
            return None
        raise
    lp = prof.get("LoginProfile", {})
    return {"password_reset_required": bool(lp.get("PasswordResetRequired", False))}


def take_snapshot(iam: Any, p: Principal, *, origin: str = "inventory", case_id: str = "") -> dict[str, Any]:
    """Everything about ``p`` that containment may change or a responder must know, read now."""
    snap: dict[str, Any] = {
        "arn": p.arn,
        "kind": p.kind,
        "name": p.name,
        "origin": origin,
        "case_id": case_id,
        "taken_at": datetime.now(UTC).isoformat(),
    }
    return snap | (_user(iam, p) if p.kind == "user" else _role(iam, p))


def pages(fn: Any, key: str, **kwargs: Any) -> list[Any]:
    """Follow IAM's Marker pagination by hand (works the same against AWS and simulators)."""
    items: list[Any] = []
    marker: str | None = None
    for _ in range(10_000):  # bounded: a page holds up to 100 items, no principal has a million
        resp = fn(**kwargs, **({"Marker": marker} if marker else {}))
        items.extend(resp.get(key, []))
        if not resp.get("IsTruncated"):
            break
        marker = resp["Marker"]
    return items


def _inline(fn: Any, action: str, p: Principal, **kwargs: str) -> Any:
    return policy_doc(aws_call(action, p.arn, lambda: fn(**kwargs))["PolicyDocument"])


def _user(iam: Any, p: Principal) -> dict[str, Any]:
    def inline() -> dict[str, Any]:
        names = aws_call(
            "iam:ListUserPolicies", p.arn, lambda: pages(iam.list_user_policies, "PolicyNames", UserName=p.name)
        )
        return {
            n: _inline(iam.get_user_policy, "iam:GetUserPolicy", p, UserName=p.name, PolicyName=n) for n in names
        }

    # Independent reads side by side: under throttling each one may wait out a back-off, and the
    # principal is not changed before the last of them is on disk.
    user, keys, policies, attached, mfa, tags, login = together(
        lambda: aws_call("iam:GetUser", p.arn, lambda: iam.get_user(UserName=p.name))["User"],
        lambda: aws_call(
            "iam:ListAccessKeys", p.arn, lambda: pages(iam.list_access_keys, "AccessKeyMetadata", UserName=p.name)
        ),
        inline,
        lambda: aws_call(
            "iam:ListAttachedUserPolicies",
            p.arn,
            lambda: pages(iam.list_attached_user_policies, "AttachedPolicies", UserName=p.name),
        ),
        lambda: aws_call(
            "iam:ListMFADevices", p.arn, lambda: pages(iam.list_mfa_devices, "MFADevices", UserName=p.name)
        ),
        lambda: aws_call("iam:ListUserTags", p.arn, lambda: pages(iam.list_user_tags, "Tags", UserName=p.name)),
        lambda: login_profile(iam, p),
    )
    return {
        "path": user.get("Path", "/"),
        "permissions_boundary": (user.get("PermissionsBoundary") or {}).get("PermissionsBoundaryArn"),
        "access_keys": sorted(
            ({"id": k["AccessKeyId"], "status": k["Status"]} for k in keys), key=lambda k: str(k["id"])
        ),
        "login_profile": login,
        "mfa_devices": sorted(str(d["SerialNumber"]) for d in mfa),
        "inline_policies": policies,
        "attached_policies": sorted(str(a["PolicyArn"]) for a in attached),
        "tags": _tags(tags),
    }


def _role(iam: Any, p: Principal) -> dict[str, Any]:
    def inline() -> dict[str, Any]:
        names = aws_call(
            "iam:ListRolePolicies", p.arn, lambda: pages(iam.list_role_policies, "PolicyNames", RoleName=p.name)
        )
        return {
            n: _inline(iam.get_role_policy, "iam:GetRolePolicy", p, RoleName=p.name, PolicyName=n) for n in names
        }

    role, policies, attached, tags, profiles = together(
        lambda: aws_call("iam:GetRole", p.arn, lambda: iam.get_role(RoleName=p.name))["Role"],
        inline,
        lambda: aws_call(
            "iam:ListAttachedRolePolicies",
            p.arn,
            lambda: pages(iam.list_attached_role_policies, "AttachedPolicies", RoleName=p.name),
        ),
        lambda: aws_call("iam:ListRoleTags", p.arn, lambda: pages(iam.list_role_tags, "Tags", RoleName=p.name)),
        lambda: aws_call(
            "iam:ListInstanceProfilesForRole",
            p.arn,
            lambda: pages(iam.list_instance_profiles_for_role, "InstanceProfiles", RoleName=p.name),
        ),
    )
    return {
        "path": role.get("Path", "/"),
        "permissions_boundary": (role.get("PermissionsBoundary") or {}).get("PermissionsBoundaryArn"),
        "trust_policy": policy_doc(role.get("AssumeRolePolicyDocument")),
        "max_session_duration": role.get("MaxSessionDuration"),
        "inline_policies": policies,
        "attached_policies": sorted(str(a["PolicyArn"]) for a in attached),
        "instance_profiles": sorted(str(ip["Arn"]) for ip in profiles),
        "tags": _tags(tags),
    }


def _tags(tags: list[Mapping[str, Any]]) -> dict[str, str]:
    return {str(t["Key"]): str(t["Value"]) for t in tags}


def comparable(snapshot: Mapping[str, Any], *, ignore: frozenset[str] = frozenset()) -> dict[str, Any]:
    """The part of a snapshot that must be equal before containment and after restore."""
    return {k: v for k, v in snapshot.items() if k not in VOLATILE and k not in ignore}


def differences(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[str]:
    """Top-level fields whose values differ, e.g. ``["access_keys", "tags"]``."""
    a, b = comparable(before), comparable(after)
    return sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))
