"""What the IAM inverses share: reading a role or user, and the calls that strip it."""

from __future__ import annotations

from typing import Any

from irkit.revert.calls import pages, read
from irkit.revert.model import IRKIT_POLICIES, QUARANTINE_TAG, Call, Change, PlanContext, document

GONE = ("NoSuchEntity",)
DENY_ALL_TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "IrkitRevertDenyAll",
            "Effect": "Deny",
            "Principal": {"AWS": "*"},
            "Action": ["sts:AssumeRole", "sts:AssumeRoleWithSAML", "sts:AssumeRoleWithWebIdentity"],
        }
    ],
}
ROLE_READS = (
    "iam:GetRole",
    "iam:ListAttachedRolePolicies",
    "iam:ListRolePolicies",
    "iam:GetRolePolicy",
    "iam:ListInstanceProfilesForRole",
    "iam:ListRoleTags",
)
USER_READS = (
    "iam:GetUser",
    "iam:ListAccessKeys",
    "iam:GetLoginProfile",
    "iam:ListMFADevices",
    "iam:ListGroupsForUser",
    "iam:ListAttachedUserPolicies",
    "iam:ListUserPolicies",
    "iam:GetUserPolicy",
    "iam:ListUserTags",
)


def region(change: Change, ctx: PlanContext) -> str:
    return change.region or ctx.home_region


def role_exists(ctx: PlanContext, change: Change, role: str) -> bool:
    return (
        read(ctx.client, "iam:GetRole", region(change, ctx), change.resource, missing=GONE, RoleName=role) is not None
    )


def user_exists(ctx: PlanContext, change: Change, user: str) -> bool:
    return (
        read(ctx.client, "iam:GetUser", region(change, ctx), change.resource, missing=GONE, UserName=user) is not None
    )


def attached_role(ctx: PlanContext, change: Change, role: str) -> list[str]:
    rows = pages(
        ctx.client,
        "iam:ListAttachedRolePolicies",
        region(change, ctx),
        change.resource,
        "AttachedPolicies",
        RoleName=role,
    )
    return sorted(str(r["PolicyArn"]) for r in rows)


def inline_role(ctx: PlanContext, change: Change, role: str) -> list[str]:
    rows = pages(ctx.client, "iam:ListRolePolicies", region(change, ctx), change.resource, "PolicyNames", RoleName=role)
    return sorted(str(n) for n in rows)


def attached_user(ctx: PlanContext, change: Change, user: str) -> list[str]:
    rows = pages(
        ctx.client,
        "iam:ListAttachedUserPolicies",
        region(change, ctx),
        change.resource,
        "AttachedPolicies",
        UserName=user,
    )
    return sorted(str(r["PolicyArn"]) for r in rows)


def inline_user(ctx: PlanContext, change: Change, user: str) -> list[str]:
    rows = pages(ctx.client, "iam:ListUserPolicies", region(change, ctx), change.resource, "PolicyNames", UserName=user)
    return sorted(str(n) for n in rows)


def trust_of(ctx: PlanContext, change: Change, role: str) -> Any:
    got = read(ctx.client, "iam:GetRole", region(change, ctx), change.resource, missing=GONE, RoleName=role)
    return document((got or {}).get("Role", {}).get("AssumeRolePolicyDocument"))


def is_locked(trust: Any) -> bool:
    """A trust policy that allows nobody (containment's lock, or the revert's quarantine)."""
    statements = trust.get("Statement", []) if isinstance(trust, dict) else []
    statements = statements if isinstance(statements, list) else [statements]
    return bool(statements) and all(isinstance(s, dict) and s.get("Effect") == "Deny" for s in statements)


def strip_role(ctx: PlanContext, change: Change, role: str) -> list[Call]:
    """Detach managed, delete inline (containment's own last), remove from instance profiles."""
    r = region(change, ctx)
    calls = [
        Call("iam:DetachRolePolicy", r, {"RoleName": role, "PolicyArn": arn}, f"detach {arn}", GONE)
        for arn in attached_role(ctx, change, role)
    ]
    names = sorted(inline_role(ctx, change, role), key=lambda n: (n in IRKIT_POLICIES, n))
    calls += [
        Call("iam:DeleteRolePolicy", r, {"RoleName": role, "PolicyName": n}, f"delete inline policy {n}", GONE)
        for n in names
    ]
    profiles = pages(
        ctx.client, "iam:ListInstanceProfilesForRole", r, change.resource, "InstanceProfiles", RoleName=role
    )
    calls += [
        Call(
            "iam:RemoveRoleFromInstanceProfile",
            r,
            {"InstanceProfileName": str(p["InstanceProfileName"]), "RoleName": role},
            f"remove from instance profile {p['InstanceProfileName']}",
            GONE,
        )
        for p in profiles
    ]
    return calls


def quarantine_tag(case_id: str) -> list[dict[str, str]]:
    return [{"Key": QUARANTINE_TAG, "Value": case_id}]


def user_teardown(ctx: PlanContext, change: Change, user: str) -> list[Call]:
    """Keys off first (kept: evidence), then console password, MFA, groups, policies; irkit's deny stays."""
    r = region(change, ctx)
    keys = pages(ctx.client, "iam:ListAccessKeys", r, change.resource, "AccessKeyMetadata", UserName=user)
    calls = [
        Call(
            "iam:UpdateAccessKey",
            r,
            {"UserName": user, "AccessKeyId": str(k["AccessKeyId"]), "Status": "Inactive"},
            f"access key {k['AccessKeyId']} → Inactive (kept as evidence)",
            GONE,
        )
        for k in keys
        if k.get("Status") == "Active"
    ]
    if read(ctx.client, "iam:GetLoginProfile", r, change.resource, missing=GONE, UserName=user) is not None:
        calls.append(Call("iam:DeleteLoginProfile", r, {"UserName": user}, "delete console password", GONE))
    for device in pages(ctx.client, "iam:ListMFADevices", r, change.resource, "MFADevices", UserName=user):
        serial = str(device["SerialNumber"])
        calls.append(
            Call(
                "iam:DeactivateMFADevice",
                r,
                {"UserName": user, "SerialNumber": serial},
                f"deactivate MFA device {serial}",
                GONE,
            )
        )
    for group in pages(ctx.client, "iam:ListGroupsForUser", r, change.resource, "Groups", UserName=user):
        name = str(group["GroupName"])
        calls.append(
            Call("iam:RemoveUserFromGroup", r, {"GroupName": name, "UserName": user}, f"remove from group {name}", GONE)
        )
    calls += [
        Call("iam:DetachUserPolicy", r, {"UserName": user, "PolicyArn": arn}, f"detach {arn}", GONE)
        for arn in attached_user(ctx, change, user)
    ]
    calls += [
        Call("iam:DeleteUserPolicy", r, {"UserName": user, "PolicyName": n}, f"delete inline policy {n}", GONE)
        for n in inline_user(ctx, change, user)
        if n not in IRKIT_POLICIES
    ]
    calls.append(
        Call("iam:TagUser", r, {"UserName": user, "Tags": quarantine_tag(ctx.case_id)}, "tag quarantine", GONE)
    )
    return calls


def user_left(ctx: PlanContext, change: Change, user: str) -> list[str]:
    """What still arms a user: active keys, a console password, MFA, groups, policies."""
    r = region(change, ctx)
    left = []
    keys = pages(ctx.client, "iam:ListAccessKeys", r, change.resource, "AccessKeyMetadata", UserName=user)
    left += [f"active key {k['AccessKeyId']}" for k in keys if k.get("Status") == "Active"]
    if read(ctx.client, "iam:GetLoginProfile", r, change.resource, missing=GONE, UserName=user) is not None:
        left.append("console password")
    if pages(ctx.client, "iam:ListMFADevices", r, change.resource, "MFADevices", UserName=user):
        left.append("MFA device")
    left += [
        f"group {g['GroupName']}"
        for g in pages(ctx.client, "iam:ListGroupsForUser", r, change.resource, "Groups", UserName=user)
    ]
    left += [f"policy {a}" for a in attached_user(ctx, change, user)]
    left += [f"inline policy {n}" for n in inline_user(ctx, change, user) if n not in IRKIT_POLICIES]
    return left
