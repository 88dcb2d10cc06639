"""Reading IAM, bucket and trust policies as CloudTrail records carry them.

CloudTrail logs policy documents either as parsed JSON or as strings, and IAM strings are often
url-encoded (``%7B%22Version%22...``). Every helper here takes any of those shapes and never raises:
a document that cannot be parsed is treated as empty, so a rule simply does not fire on it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import unquote_plus

import orjson

_ACCOUNT_IN_ARN = re.compile(r"^arn:aws[a-z-]*:(?:iam|sts)::(\d{12}):")
_ACCOUNT = re.compile(r"^\d{12}$")

# Conditions that pin a public principal to a network, organisation or source: not "anyone".
_LIMITING_CONDITION_KEYS = frozenset(
    {
        "aws:sourcevpce",
        "aws:sourcevpc",
        "aws:sourceip",
        "aws:principalorgid",
        "aws:principalorgpaths",
        "aws:principalaccount",
        "aws:principalarn",
        "aws:sourceaccount",
        "aws:sourcearn",
        "aws:sourceorgid",
        "aws:userid",
        "aws:username",
    }
)

ADMIN_MANAGED_POLICIES = frozenset(
    {
        "AdministratorAccess",
        "AdministratorAccess-Amplify",
        "AdministratorAccess-AWSElasticBeanstalk",
        "IAMFullAccess",
        "PowerUserAccess",
        "AWSOrganizationsFullAccess",
        "SystemAdministrator",
        "NetworkAdministrator",
        "DatabaseAdministrator",
    }
)


def load_document(value: object) -> Mapping[str, Any] | None:
    """A policy document from a dict, a JSON string or a url-encoded JSON string."""
    if isinstance(value, Mapping):
        return value
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    for candidate in (text, unquote_plus(text)):
        try:
            doc = orjson.loads(candidate)
        except orjson.JSONDecodeError:
            continue
        if isinstance(doc, Mapping):
            return doc
    return None


def as_list(value: object) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, list | tuple):
        return list(value)
    return [value]


def statements(doc: Mapping[str, Any] | None) -> Iterator[Mapping[str, Any]]:
    if not doc:
        return
    for stmt in as_list(doc.get("Statement")):
        if isinstance(stmt, Mapping):
            yield stmt


def _allows(stmt: Mapping[str, Any]) -> bool:
    return str(stmt.get("Effect", "")).lower() == "allow"


def grants_admin(doc: Mapping[str, Any] | None) -> bool:
    """``Allow`` of ``*``, ``*:*`` or ``iam:*`` on every resource, or ``NotAction`` on ``*``."""
    for stmt in statements(doc):
        if not _allows(stmt):
            continue
        resources = [str(r) for r in as_list(stmt.get("Resource"))]
        if "*" not in resources:
            continue
        actions = {str(a).lower() for a in as_list(stmt.get("Action"))}
        if actions & {"*", "*:*", "iam:*"}:
            return True
        if "NotAction" in stmt:
            return True
    return False


def is_admin_managed_policy(arn: object) -> bool:
    """An AWS-managed policy that grants administrator or IAM-administrator power."""
    if not isinstance(arn, str) or ":policy/" not in arn:
        return False
    account = arn.split(":")[4] if arn.count(":") >= 5 else ""
    name = arn.rsplit("/", 1)[-1]
    return account == "aws" and name in ADMIN_MANAGED_POLICIES


def _has_limiting_condition(stmt: Mapping[str, Any]) -> bool:
    cond = stmt.get("Condition")
    if not isinstance(cond, Mapping):
        return False
    for clauses in cond.values():
        if isinstance(clauses, Mapping) and any(str(k).lower() in _LIMITING_CONDITION_KEYS for k in clauses):
            return True
    return False


def principal_values(stmt: Mapping[str, Any]) -> list[str]:
    """Every AWS principal a statement names (``*`` stays ``*``)."""
    principal = stmt.get("Principal")
    if principal == "*":
        return ["*"]
    if isinstance(principal, Mapping):
        return [str(v) for v in as_list(principal.get("AWS"))]
    return []


def public_statements(doc: Mapping[str, Any] | None) -> list[Mapping[str, Any]]:
    """Allow statements open to anyone (``*`` principal) without a narrowing condition."""
    found = []
    for stmt in statements(doc):
        if _allows(stmt) and "*" in principal_values(stmt) and not _has_limiting_condition(stmt):
            found.append(stmt)
    return found


def account_of(principal: str) -> str | None:
    """``123456789012`` from an account id or an IAM/STS ARN; None for service principals."""
    if _ACCOUNT.match(principal):
        return principal
    m = _ACCOUNT_IN_ARN.match(principal)
    return m.group(1) if m else None


def external_principals(doc: Mapping[str, Any] | None, own_account: str) -> tuple[str, ...]:
    """Accounts (or ``*``) outside ``own_account`` that an Allow statement trusts, sorted."""
    found: set[str] = set()
    for stmt in statements(doc):
        if not _allows(stmt):
            continue
        for value in principal_values(stmt):
            if value == "*":
                if not _has_limiting_condition(stmt):
                    found.add("*")
                continue
            account = account_of(value)
            if account and account != own_account:
                found.add(account)
    return tuple(sorted(found))


def truthy(value: object) -> bool:
    """CloudTrail logs booleans as JSON booleans or as ``"true"``/``"false"`` strings."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        return value.strip().lower() == "true"
    return False


def falsy(value: object) -> bool:
    if isinstance(value, bool):
        return not value
    if isinstance(value, str):
        return value.strip().lower() == "false"
    return False


def items(value: object) -> list[Mapping[str, Any]]:
    """EC2's ``{"items": [...]}`` wrapper (or a bare list / single dict) as a list of dicts."""
    if isinstance(value, Mapping):
        if "items" in value:
            value = value.get("items")
        else:
            return [value]
    return [v for v in as_list(value) if isinstance(v, Mapping)]
