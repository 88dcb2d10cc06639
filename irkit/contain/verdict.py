"""Is it contained? Read the principal again and say so only when IAM shows it.

A containment row, a principal and a credential-chain link are ``contained`` only from a re-read of
IAM made after the change: never from the plan, never from a call that returned without error. What
cannot be read again is not contained either: its status says ``NOT contained: <gap>`` with the
reason, and a gap names it, so the banner, ``--json``, the step table and the report agree.

:func:`observe` reads what containment changes (a user's access keys, irkit's session deny, the
console login; a role's trust policy and session deny; the tags), the reads side by side.
:func:`holds` says whether one action's effect is there; :func:`problems` whether a target is
contained as a whole (a key created after the plan, an outside trust left in place included).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from irkit.aws.session import aws_call
from irkit.config import Principal
from irkit.contain.actions import ROLE_POLICY, USER_POLICY, external_principals, is_locked
from irkit.contain.calls import together
from irkit.contain.snapshot import CASE_TAG, login_profile, pages, policy_doc
from irkit.contain.targets import Target
from irkit.core.plan import Action
from irkit.errors import AwsCallError

CONTAINED = "contained"
NOT_CONTAINED = "NOT contained"
SHOWN = 3
"""Problems named in one status line; the rest are counted (every one is still a gap)."""


@dataclass(frozen=True, slots=True)
class Observed:
    """A principal as IAM showed it when re-read. ``None``: that part could not be read (see ``unread``)."""

    principal: Principal
    keys: dict[str, str] | None = None
    """Access key id → status (users)."""
    session_cutoff: str | None = None
    """The ``aws:TokenIssueTime`` of irkit's deny-all session policy; ``""`` when there is none."""
    login_profile: bool | None = None
    trust: Any = None
    tags: dict[str, str] | None = None
    unread: dict[str, str] = field(default_factory=dict)
    """What could not be read → why (``iam:ListAccessKeys AccessDenied``)."""


def observe(iam: Any, p: Principal) -> Observed:
    """Re-read what containment changes on ``p`` (reads only, side by side; a failed read is noted)."""
    unread: dict[str, str] = {}

    def read(part: str, fn: Any) -> Any:
        try:
            return fn()
        except AwsCallError as exc:
            unread[part] = f"{exc.action} {exc.code}"
            return None

    if p.kind == "user":
        keys, cutoff, login, tags = together(
            lambda: read("keys", lambda: _keys(iam, p)),
            lambda: read("session policy", lambda: _session_cutoff(iam, p)),
            lambda: read("console login", lambda: login_profile(iam, p) is not None),
            lambda: read("tags", lambda: _tags(iam, p)),
        )
        return Observed(p, keys=keys, session_cutoff=cutoff, login_profile=login, tags=tags, unread=unread)
    trust, cutoff, tags = together(
        lambda: read("trust policy", lambda: _trust(iam, p)),
        lambda: read("session policy", lambda: _session_cutoff(iam, p)),
        lambda: read("tags", lambda: _tags(iam, p)),
    )
    return Observed(p, session_cutoff=cutoff, trust=trust, tags=tags, unread=unread)


def holds(action: Action, seen: Observed, *, cutoff: str = "") -> tuple[bool, str]:
    """Does the effect of ``action`` show in ``seen``? ``(False, why)`` when not, or when it cannot be told."""
    p = action.params
    if action.kind == "deactivate-access-key":
        return _check(seen, "keys", lambda: _key_inactive(seen, str(p.get("key_id", ""))))
    if action.kind in ("deny-user-sessions", "revoke-role-sessions"):
        return _check(seen, "session policy", lambda: _sessions_denied(seen, cutoff))
    if action.kind == "delete-login-profile":
        return _check(seen, "console login", lambda: "" if not seen.login_profile else "console password still set")
    if action.kind == "lock-trust-policy":
        return _check(seen, "trust policy", lambda: "" if is_locked(seen.trust) else _trust_open(seen))
    if action.kind == "tag-principal":
        want = str(p.get("case", ""))
        return _check(
            seen, "tags", lambda: "" if (seen.tags or {}).get(CASE_TAG) == want else f"tag {CASE_TAG} not set"
        )
    return False, f"unknown action {action.kind!r}: cannot be verified"


def problems(target: Target, seen: Observed, actions: Sequence[Action], *, cutoff: str = "") -> list[str]:
    """Why ``target`` is not contained as a whole, read from ``seen``; ``[]``: it is.

    ``actions`` are the ones planned for it: a trust lock planned must be in place; without one, a
    role the step contains in full must at least trust nobody outside its account.
    """
    out: list[str] = []

    def need(part: str, why: str) -> None:
        ok, reason = _check(seen, part, lambda: why)
        if not ok:
            out.append(reason)

    p = target.principal
    if p.kind == "user":
        if target.full:
            if seen.keys is None:
                need("keys", "")
            else:
                out.extend(f"access key {k} still Active" for k, s in sorted(seen.keys.items()) if s == "Active")
            need("session policy", _sessions_denied(seen, cutoff))
        else:
            for key in sorted(target.key_ids):
                need("keys", _key_inactive(seen, key, missing_ok=True))
        if target.full or target.login_profile:
            need("console login", "" if not seen.login_profile else "console password still set")
        return out
    if target.full or target.role_sessions:
        need("session policy", _sessions_denied(seen, cutoff))
    if target.full:
        locking = any(a.kind == "lock-trust-policy" for a in actions)
        if seen.trust is None:
            need("trust policy", "")
        elif locking and not is_locked(seen.trust):
            out.append(_trust_open(seen))
        elif not is_locked(seen.trust) and external_principals(seen.trust, p.account):
            out.append(_trust_open(seen) + " (no trust lock planned)")
    return out


def status(issues: Iterable[str], *, ok: str = CONTAINED) -> str:
    """``ok`` when there is no issue, else ``NOT contained: <the first few>`` (bounded)."""
    issues = list(dict.fromkeys(i for i in issues if i))
    if not issues:
        return ok
    more = f"; and {len(issues) - SHOWN} more" if len(issues) > SHOWN else ""
    return f"{NOT_CONTAINED}: " + "; ".join(issues[:SHOWN]) + more


def is_contained(value: str) -> bool:
    return not value.startswith(NOT_CONTAINED) and value.startswith(CONTAINED)


# -- reads --------------------------------------------------------------------------------------


def _keys(iam: Any, p: Principal) -> dict[str, str]:
    keys = aws_call(
        "iam:ListAccessKeys", p.arn, lambda: pages(iam.list_access_keys, "AccessKeyMetadata", UserName=p.name)
    )
    return {str(k["AccessKeyId"]): str(k["Status"]) for k in keys}


def _tags(iam: Any, p: Principal) -> dict[str, str]:
    if p.kind == "user":
        tags = aws_call("iam:ListUserTags", p.arn, lambda: pages(iam.list_user_tags, "Tags", UserName=p.name))
    else:
        tags = aws_call("iam:ListRoleTags", p.arn, lambda: pages(iam.list_role_tags, "Tags", RoleName=p.name))
    return {str(t["Key"]): str(t["Value"]) for t in tags}


def _trust(iam: Any, p: Principal) -> Any:
    role = aws_call("iam:GetRole", p.arn, lambda: iam.get_role(RoleName=p.name))["Role"]
    return policy_doc(role.get("AssumeRolePolicyDocument"))


def _session_cutoff(iam: Any, p: Principal) -> str:
    """The cutoff of irkit's deny-all session policy on ``p``; ``""`` when it is absent or not a deny-all."""
    try:
        if p.kind == "user":
            resp = aws_call(
                "iam:GetUserPolicy", p.arn, lambda: iam.get_user_policy(UserName=p.name, PolicyName=USER_POLICY)
            )
        else:
            resp = aws_call(
                "iam:GetRolePolicy", p.arn, lambda: iam.get_role_policy(RoleName=p.name, PolicyName=ROLE_POLICY)
            )
    except AwsCallError as exc:
        if exc.code == "NoSuchEntity":
            return ""
        raise
    return deny_all_cutoff(policy_doc(resp.get("PolicyDocument")))


def deny_all_cutoff(doc: Any) -> str:
    """``aws:TokenIssueTime`` of a statement denying every action on every resource to older sessions."""
    if not isinstance(doc, dict):
        return ""
    statements = doc.get("Statement", [])
    for s in statements if isinstance(statements, list) else [statements]:
        if not isinstance(s, dict) or s.get("Effect") != "Deny":
            continue
        actions = s.get("Action")
        resources = s.get("Resource")
        if actions not in ("*", ["*"]) or resources not in ("*", ["*"]):
            continue
        when = (s.get("Condition") or {}).get("DateLessThan", {}).get("aws:TokenIssueTime")
        if isinstance(when, str) and when:
            return when
    return ""


# -- checks -------------------------------------------------------------------------------------


def _check(seen: Observed, part: str, why: Any) -> tuple[bool, str]:
    if part in seen.unread:
        return False, f"could not re-read its {part} ({seen.unread[part]})"
    reason = str(why())
    return (not reason), reason


def _key_inactive(seen: Observed, key: str, *, missing_ok: bool = False) -> str:
    keys = seen.keys or {}
    if key not in keys:
        return "" if missing_ok else f"access key {key} not found on re-read"
    return "" if keys[key] == "Inactive" else f"access key {key} still {keys[key]}"


def _sessions_denied(seen: Observed, cutoff: str) -> str:
    policy = USER_POLICY if seen.principal.kind == "user" else ROLE_POLICY
    if not seen.session_cutoff:
        return f"no session deny policy {policy} in place"
    if cutoff and seen.session_cutoff < cutoff:
        return f"session deny policy {policy} predates this run ({seen.session_cutoff})"
    return ""


def _trust_open(seen: Observed) -> str:
    outside = external_principals(seen.trust, seen.principal.account)
    return "trust policy not locked" + (f"; it still admits {', '.join(outside)}" if outside else "")
