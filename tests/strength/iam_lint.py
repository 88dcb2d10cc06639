"""Policy documents checked as IAM would check them, because moto accepts what IAM refuses.

Two checks, both applied to every document:

* :func:`grammar` — the IAM JSON policy grammar, written from the IAM User Guide's "Grammar of the
  IAM JSON policy language" and "IAM JSON policy elements" pages: Version, Statement shapes, Effect,
  exactly one of Action/NotAction, Principal only in trust policies and required there, Resource
  required in identity policies and forbidden in trust policies, principal shapes (account, root,
  user, role, assumed-role, federated-user ARNs; service and federated principals), condition
  operators (with ``IfExists`` and ``ForAllValues:``/``ForAnyValue:``), global condition keys, date,
  number, boolean and IP values, ARN shapes, Sid characters, the size quotas;
* :func:`parliament_findings` — parliament's linter (unknown actions and prefixes, type
  mismatches), minus the findings that are irkit's documented choices.

Every action named must exist in the IAM service reference shipped with parliament.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Iterator
from datetime import datetime
from fnmatch import fnmatchcase
from functools import cache
from pathlib import Path
from typing import Any, Literal

import parliament

Kind = Literal["identity", "trust", "resource"]
"""identity: attached to a user, role or group; trust: a role's trust policy; resource: a bucket's."""

VERSIONS = ("2012-10-17", "2008-10-17")
STATEMENT_KEYS = frozenset(
    {"Sid", "Effect", "Principal", "NotPrincipal", "Action", "NotAction", "Resource", "NotResource", "Condition"}
)
PARTITION = r"aws(?:-cn|-us-gov)?"
ACCOUNT = r"\d{12}"
NAME = r"[\w+=,.@-]{1,128}"
PATH = r"(?:/[\x21-\x7e]*)?"
AWS_PRINCIPAL = re.compile(
    rf"^(?:\*|{ACCOUNT}"
    rf"|arn:{PARTITION}:iam::{ACCOUNT}:root"
    rf"|arn:{PARTITION}:iam::{ACCOUNT}:(?:user|role){PATH}/{NAME}"
    rf"|arn:{PARTITION}:sts::{ACCOUNT}:assumed-role/{NAME}/{NAME}"
    rf"|arn:{PARTITION}:sts::{ACCOUNT}:federated-user/{NAME})$"
)
SERVICE_PRINCIPAL = re.compile(r"^[a-z0-9][a-z0-9-]*(?:\.[a-z0-9-]+)*\.amazonaws\.com(?:\.cn)?$")
FEDERATED_PRINCIPAL = re.compile(
    rf"^(?:cognito-identity\.amazonaws\.com|www\.amazon\.com|graph\.facebook\.com|accounts\.google\.com"
    rf"|arn:{PARTITION}:iam::{ACCOUNT}:saml-provider/{NAME}"
    rf"|arn:{PARTITION}:iam::{ACCOUNT}:oidc-provider/[\w.:/-]+)$"
)
CANONICAL_USER = re.compile(r"^[0-9a-f]{64}$")
ACTION = re.compile(r"^(?:\*|[a-z0-9-]+:[A-Za-z0-9*?]+)$")
RESOURCE = re.compile(rf"^(?:\*|arn:(?:{PARTITION}|\*):[a-z0-9*-]+:[a-z0-9*-]*:(?:{ACCOUNT}|\*|[\w*-]*)?:.+)$")
SID = re.compile(r"^[A-Za-z0-9]*$")
# Roles: what a trust policy may allow or deny.
TRUST_ACTIONS = re.compile(
    r"^sts:(?:AssumeRole|AssumeRoleWithSAML|AssumeRoleWithWebIdentity|TagSession"
    r"|SetSourceIdentity|SetContext|\*)$"
)

OPERATORS: dict[str, str] = {
    **{op: "String" for op in (
        "StringEquals", "StringNotEquals", "StringEqualsIgnoreCase", "StringNotEqualsIgnoreCase",
        "StringLike", "StringNotLike",
    )},
    **{op: "Numeric" for op in (
        "NumericEquals", "NumericNotEquals", "NumericLessThan", "NumericLessThanEquals",
        "NumericGreaterThan", "NumericGreaterThanEquals",
    )},
    **{op: "Date" for op in (
        "DateEquals", "DateNotEquals", "DateLessThan", "DateLessThanEquals", "DateGreaterThan",
        "DateGreaterThanEquals",
    )},
    "Bool": "Bool",
    "BinaryEquals": "Binary",
    "IpAddress": "IP",
    "NotIpAddress": "IP",
    **{op: "ARN" for op in ("ArnEquals", "ArnLike", "ArnNotEquals", "ArnNotLike")},
    "Null": "Null",
}  # fmt: skip
# Global condition keys (aws:...), with the value type IAM expects; a trailing "/" takes a tag key.
GLOBAL_KEYS: dict[str, str] = {
    "aws:calledvia": "String", "aws:calledviafirst": "String", "aws:calledvialast": "String",
    "aws:currenttime": "Date", "aws:epochtime": "Date", "aws:federatedprovider": "String",
    "aws:multifactorauthage": "Numeric", "aws:multifactorauthpresent": "Bool",
    "aws:principalaccount": "String", "aws:principalarn": "ARN", "aws:principalisawsservice": "Bool",
    "aws:principalorgid": "String", "aws:principalorgpaths": "String", "aws:principalservicename": "String",
    "aws:principalservicenameslist": "String", "aws:principaltag/": "String", "aws:principaltype": "String",
    "aws:referer": "String", "aws:requestedregion": "String", "aws:requesttag/": "String",
    "aws:resourceaccount": "String", "aws:resourceorgid": "String", "aws:resourceorgpaths": "String",
    "aws:resourcetag/": "String", "aws:securetransport": "Bool", "aws:sourceaccount": "String",
    "aws:sourcearn": "ARN", "aws:sourceidentity": "String", "aws:sourceip": "IP", "aws:sourceorgid": "String",
    "aws:sourceorgpaths": "String", "aws:sourcevpc": "String", "aws:sourcevpce": "String",
    "aws:tagkeys": "String", "aws:tokenissuetime": "Date", "aws:useragent": "String", "aws:userid": "String",
    "aws:username": "String", "aws:viaawsservice": "Bool", "aws:vpcsourceip": "IP",
    "aws:ec2instancesourcevpc": "String", "aws:ec2instancesourceprivateipv4": "IP",
}  # fmt: skip
ISO_DATE = re.compile(r"^\d{4}-\d\d-\d\d(?:T\d\d:\d\d(?::\d\d(?:\.\d+)?)?(?:Z|[+-]\d\d:?\d\d))?$")
# Character quotas, whitespace not counted (IAM and STS quotas page): a managed policy, a role's
# trust policy (the default quota), the inline policies of a user / of a role (aggregate); a bucket
# policy's 20 KB (S3).
QUOTAS = {"managed": 6144, "trust": 2048, "inline-user": 2048, "inline-role": 10240, "bucket": 20480}


@cache
def _definition() -> list[dict[str, Any]]:
    path = Path(parliament.__file__).with_name("iam_definition.json")
    return list(json.loads(path.read_text(encoding="utf-8")))


@cache
def known_actions() -> dict[str, frozenset[str]]:
    """Service prefix → the IAM actions it defines (IAM service reference)."""
    return {s["prefix"]: frozenset(p["privilege"] for p in s["privileges"]) for s in _definition()}


@cache
def service_condition_keys() -> frozenset[str]:
    keys = {c["condition"].lower() for s in _definition() for c in s["conditions"]}
    return frozenset(k.split("${")[0] for k in keys)


def _listify(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def action_exists(action: str) -> bool:
    if action == "*":
        return True
    prefix, _, name = action.partition(":")
    actions = known_actions().get(prefix)
    if actions is None:
        return False
    return any(fnmatchcase(a.lower(), name.lower()) for a in actions)


def _principal_problems(where: str, principal: Any) -> Iterator[str]:
    if principal == "*":
        return
    if not isinstance(principal, dict) or not principal:
        yield f'{where}: Principal must be "*" or a map of AWS/Service/Federated/CanonicalUser'
        return
    checks = {"AWS": AWS_PRINCIPAL, "Service": SERVICE_PRINCIPAL, "Federated": FEDERATED_PRINCIPAL,
              "CanonicalUser": CANONICAL_USER}  # fmt: skip
    for key, values in principal.items():
        pattern = checks.get(key)
        if pattern is None:
            yield f"{where}: unknown principal type {key!r}"
            continue
        for value in _listify(values):
            if not isinstance(value, str) or not pattern.match(value):
                yield f"{where}: malformed {key} principal {value!r}"


def _value_problems(where: str, kind: str, values: list[Any]) -> Iterator[str]:
    for value in values:
        text = str(value).lower() if isinstance(value, bool) else str(value)
        if kind == "Date":
            ok = bool(re.match(r"^\d+$", text))  # epoch seconds
            if not ok and ISO_DATE.match(text):
                try:
                    datetime.fromisoformat(text.replace("Z", "+00:00"))
                    ok = True
                except ValueError:
                    ok = False
        elif kind == "Numeric":
            ok = bool(re.match(r"^-?\d+(?:\.\d+)?$", text))
        elif kind in ("Bool", "Null"):
            ok = text in ("true", "false")
        elif kind == "IP":
            try:
                ipaddress.ip_network(text, strict=False)
                ok = True
            except ValueError:
                ok = False
        elif kind == "ARN":
            ok = text.startswith("arn:") or "*" in text
        else:
            ok = isinstance(value, str | int | float | bool)
        if not ok:
            yield f"{where}: {value!r} is not a valid {kind} value"


def _condition_problems(where: str, condition: Any) -> Iterator[str]:
    if not isinstance(condition, dict) or not condition:
        yield f"{where}: Condition must be a non-empty map"
        return
    for operator, block in condition.items():
        base = operator
        for prefix in ("ForAllValues:", "ForAnyValue:"):
            base = base.removeprefix(prefix)
        base = base.removesuffix("IfExists") if base != "Null" else base
        kind = OPERATORS.get(base)
        if kind is None:
            yield f"{where}: unknown condition operator {operator!r}"
            continue
        if not isinstance(block, dict) or not block:
            yield f"{where}: {operator} must map condition keys to values"
            continue
        for key, values in block.items():
            lowered = str(key).lower()
            if lowered.startswith("aws:"):
                expected = GLOBAL_KEYS.get(lowered) or next(
                    (t for k, t in GLOBAL_KEYS.items() if k.endswith("/") and lowered.startswith(k)), None
                )
                if expected is None:
                    yield f"{where}: unknown global condition key {key!r}"
                elif kind not in (expected, "Null") and not (expected == "ARN" and kind == "String"):
                    yield f"{where}: {operator} cannot compare {key} (a {expected} key)"
            elif not any(lowered.startswith(k) for k in service_condition_keys()):
                yield f"{where}: unknown condition key {key!r}"
            values = _listify(values)
            if not values:
                yield f"{where}: {operator} {key} has no value"
            yield from _value_problems(f"{where}: {operator} {key}", kind, values)


def grammar(doc: Any, kind: Kind, *, quota: str | None = None) -> list[str]:
    """Problems IAM would refuse the document for; empty when it is well-formed."""
    if isinstance(doc, str):
        try:
            doc = json.loads(doc)
        except ValueError as exc:
            return [f"not JSON: {exc}"]
    if not isinstance(doc, dict):
        return ["a policy is a JSON object"]
    out: list[str] = []
    unknown = set(doc) - {"Version", "Id", "Statement"}
    if unknown:
        out.append(f"unknown top-level keys {sorted(unknown)}")
    if doc.get("Version") not in VERSIONS:
        out.append(f"Version must be one of {VERSIONS}, not {doc.get('Version')!r}")
    statements = doc.get("Statement")
    if not isinstance(statements, list | dict) or not statements:
        return [*out, "Statement must be a non-empty list or an object"]
    sids: list[str] = []
    for n, st in enumerate(_listify(statements)):
        where = f"Statement[{n}]"
        if not isinstance(st, dict):
            out.append(f"{where}: not an object")
            continue
        out.extend(f"{where}: unknown key {k!r}" for k in sorted(set(st) - STATEMENT_KEYS))
        if "Sid" in st:
            sid = st["Sid"]
            if not isinstance(sid, str) or not SID.match(sid):
                out.append(f"{where}: Sid {sid!r} may hold letters and digits only")
            sids.append(str(sid))
        if st.get("Effect") not in ("Allow", "Deny"):
            out.append(f"{where}: Effect must be Allow or Deny, not {st.get('Effect')!r}")
        actions = [k for k in ("Action", "NotAction") if k in st]
        if len(actions) != 1:
            out.append(f"{where}: exactly one of Action and NotAction, found {actions}")
        for key in actions:
            values = _listify(st[key])
            if not values:
                out.append(f"{where}: {key} is empty")
            for action in values:
                if not isinstance(action, str) or not ACTION.match(action):
                    out.append(f"{where}: malformed action {action!r}")
                elif not action_exists(action):
                    out.append(f"{where}: no such action {action!r} in the IAM service reference")
                elif kind == "trust" and not TRUST_ACTIONS.match(action):
                    out.append(f"{where}: {action} has no place in a trust policy")
        principals = [k for k in ("Principal", "NotPrincipal") if k in st]
        resources = [k for k in ("Resource", "NotResource") if k in st]
        if kind == "identity" and principals:
            out.append(f"{where}: an identity policy may not name a principal ({principals})")
        if kind != "identity" and len(principals) != 1:
            out.append(f"{where}: a {kind} policy needs exactly one of Principal and NotPrincipal")
        if kind == "trust" and resources:
            out.append(f"{where}: a trust policy may not name a resource ({resources})")
        if kind != "trust" and len(resources) != 1:
            out.append(f"{where}: exactly one of Resource and NotResource, found {resources}")
        for key in principals:
            out.extend(_principal_problems(f"{where}.{key}", st[key]))
        for key in resources:
            values = _listify(st[key])
            if not values:
                out.append(f"{where}: {key} is empty")
            out.extend(
                f"{where}: malformed resource {r!r}" for r in values if not isinstance(r, str) or not RESOURCE.match(r)
            )
        if "Condition" in st:
            out.extend(_condition_problems(f"{where}.Condition", st["Condition"]))
    duplicates = sorted({s for s in sids if sids.count(s) > 1 and s})
    if duplicates:
        out.append(f"duplicate Sids {duplicates}")
    limit = QUOTAS[quota or {"trust": "trust", "resource": "bucket"}.get(kind, "managed")]
    size = len(re.sub(r"\s", "", json.dumps(doc)))
    if size > limit:
        out.append(f"{size} characters (whitespace aside): over the {limit}-character quota")
    return out


# parliament findings that are irkit's documented choices, not defects:
ACCEPTED = {
    # IAM actions stay on "*": the principals to contain are not known in advance (permissions.md).
    "RESOURCE_STAR",
    "RESOURCE_EFFECTIVELY_STAR",
}
# revert's compensating undos put a bucket's earlier policy or ACL back, on buckets not known in
# advance; parliament rightly says that right can grant any S3 access (docs/permissions.md says so
# too). Only those two actions are accepted: any other resource-policy escalation still fails.
ACCEPTED_ESCALATIONS = ("does allow s3:PutBucketPolicy", "does allow s3:PutBucketAcl")


def parliament_findings(doc: Any, kind: Kind) -> list[str]:
    """parliament's findings, minus the accepted ones. parliament knows no trust policies: one is
    given the Resource an identity policy needs, and its principals are still checked."""
    if isinstance(doc, str):
        doc = json.loads(doc)
    if kind == "trust":
        doc = {**doc, "Statement": [{**s, "Resource": "*"} for s in _listify(doc.get("Statement", []))]}
    policy = parliament.analyze_policy_string(json.dumps(doc), include_community_auditors=False)
    return [
        f"{f.issue}: {f.detail}"
        for f in policy.findings
        if f.issue not in ACCEPTED
        and not (f.issue == "RESOURCE_POLICY_PRIVILEGE_ESCALATION" and str(f.detail).endswith(ACCEPTED_ESCALATIONS))
    ]


def lint(doc: Any, kind: Kind, *, quota: str | None = None) -> list[str]:
    """Both checks; empty when IAM would take the document."""
    return grammar(doc, kind, quota=quota) + parliament_findings(doc, kind)
