"""Every policy document irkit writes or prints, linted as IAM would (moto accepts any document).

Documents are taken where they leave irkit: the parameters of the IAM calls containment, restore
and the drill make (a spy on botocore), and the JSON ``irkit permissions`` prints. Each must pass
the IAM grammar and parliament (:mod:`tests.strength.iam_lint`). The linter is tested first: a
linter that accepts everything would make the rest pass for nothing.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from irkit.cli import app
from irkit.config import LogArchiveSettings
from irkit.contain.actions import ROLE_POLICY, deny_older_sessions, locked_trust_policy
from irkit.engine.permissions import archive_policy, responder_policy
from irkit.engine.runbook import load_runbook, shipped_runbooks
from tests.contain.conftest import ROLE, TRUST, World, run
from tests.strength.iam_lint import grammar, lint, parliament_findings

GOOD_IDENTITY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "ReadLogs",
            "Effect": "Allow",
            "Action": ["s3:GetObject", "s3:ListBucket"],
            "Resource": ["arn:aws:s3:::b", "arn:aws:s3:::b/*"],
        },
        {
            "Effect": "Deny",
            "Action": "*",
            "Resource": "*",
            "Condition": {
                "DateLessThan": {"aws:TokenIssueTime": "2026-11-25T20:00:00Z"},
                "BoolIfExists": {"aws:MultiFactorAuthPresent": "false"},
                "ForAnyValue:StringLike": {"aws:PrincipalTag/team": ["a*"]},
                "IpAddress": {"aws:SourceIp": ["203.0.113.0/24"]},
                "StringEquals": {"sts:ExternalId": "x"},
            },
        },
    ],
}
GOOD_TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"},
        {
            "Effect": "Allow",
            "Principal": {"AWS": ["arn:aws:iam::111111111111:root", "222222222222",
                                  "arn:aws:iam::111111111111:role/path/x"]},
            "Action": ["sts:AssumeRole", "sts:TagSession"],
        },
        {"Effect": "Allow", "Principal": {"Federated": "arn:aws:iam::111111111111:saml-provider/okta"},
         "Action": "sts:AssumeRoleWithSAML"},
        {"Effect": "Deny", "Principal": "*", "Action": "sts:AssumeRoleWithWebIdentity"},
    ],
}  # fmt: skip


def _edit(doc: dict[str, Any], n: int, **changes: Any) -> dict[str, Any]:
    statements = [dict(s) for s in doc["Statement"]]
    statements[n].update(changes)
    for key, value in changes.items():
        if value is None:
            del statements[n][key]
    return {**doc, "Statement": statements}


def test_the_linter_accepts_well_formed_documents() -> None:
    assert lint(GOOD_IDENTITY, "identity") == []
    assert lint(GOOD_TRUST, "trust") == []
    # IAM takes role-session principals; parliament does not know them, the grammar does.
    session = _edit(GOOD_TRUST, 1, Principal={"AWS": "arn:aws:sts::111111111111:assumed-role/r/s"})
    assert grammar(session, "trust") == []


BAD = [
    ("identity", {**GOOD_IDENTITY, "Version": "2012-10-18"}, "Version"),
    ("identity", {"Version": "2012-10-17", "Statement": []}, "Statement"),
    ("identity", {**GOOD_IDENTITY, "Statment": []}, "unknown top-level"),
    ("identity", _edit(GOOD_IDENTITY, 0, Effect="allow"), "Effect"),
    ("identity", _edit(GOOD_IDENTITY, 0, Sid="read-logs"), "Sid"),
    ("identity", _edit(GOOD_IDENTITY, 0, NotAction="s3:PutObject"), "exactly one of Action"),
    ("identity", _edit(GOOD_IDENTITY, 0, Action="s3:GetObjekt"), "no such action"),
    ("identity", _edit(GOOD_IDENTITY, 0, Action="S3:GetObject"), "malformed action"),
    ("identity", _edit(GOOD_IDENTITY, 0, Action="nosuchservice:Get"), "no such action"),
    ("identity", _edit(GOOD_IDENTITY, 0, Resource=None), "exactly one of Resource"),
    ("identity", _edit(GOOD_IDENTITY, 0, Resource="s3:::b/*"), "malformed resource"),
    ("identity", _edit(GOOD_IDENTITY, 0, Principal={"AWS": "*"}), "may not name a principal"),
    ("identity", _edit(GOOD_IDENTITY, 0, Bogus=1), "unknown key"),
    ("identity", _edit(GOOD_IDENTITY, 1, Sid="ReadLogs"), "duplicate Sids"),
    ("identity", _edit(GOOD_IDENTITY, 1, Condition={"DateLesThan": {"aws:TokenIssueTime": "2026-01-01"}}), "operator"),
    ("identity", _edit(GOOD_IDENTITY, 1, Condition={"DateLessThan": {"aws:TokenIsueTime": "2026-01-01"}}), "key"),
    ("identity", _edit(GOOD_IDENTITY, 1, Condition={"DateLessThan": {"aws:TokenIssueTime": "yesterday"}}), "Date"),
    ("identity", _edit(GOOD_IDENTITY, 1, Condition={"DateLessThan": {"aws:TokenIssueTime": "2026-13-01"}}), "Date"),
    ("identity", _edit(GOOD_IDENTITY, 1, Condition={"StringEquals": {"aws:TokenIssueTime": "x"}}), "cannot compare"),
    ("identity", _edit(GOOD_IDENTITY, 1, Condition={"Bool": {"aws:SecureTransport": "yes"}}), "Bool"),
    ("identity", _edit(GOOD_IDENTITY, 1, Condition={"IpAddress": {"aws:SourceIp": "300.1.1.1/8"}}), "IP"),
    ("identity", _edit(GOOD_IDENTITY, 1, Condition={"StringEquals": {"nosuch:Key": "x"}}), "condition key"),
    ("identity", _edit(GOOD_IDENTITY, 1, Condition={}), "Condition"),
    ("identity", _edit(GOOD_IDENTITY, 0, Action=[f"s3:Get{'Object' * 2}"] * 800), "quota"),
    ("trust", _edit(GOOD_TRUST, 3, Principal={"AWS": "XX*XX"}), "malformed AWS principal"),
    ("trust", _edit(GOOD_TRUST, 1, Principal={"AWS": "arn:aws:iam::1111:root"}), "malformed AWS principal"),
    ("trust", _edit(GOOD_TRUST, 1, Principal={"AWS": "arn:aws:iam::111111111111:group/admins"}), "malformed AWS"),
    ("trust", _edit(GOOD_TRUST, 1, Principal={"AWS": "arn:aws:iam::111111111111:rot"}), "malformed AWS principal"),
    ("trust", _edit(GOOD_TRUST, 0, Principal={"Service": "ec2"}), "malformed Service principal"),
    ("trust", _edit(GOOD_TRUST, 2, Principal={"Federated": "okta"}), "malformed Federated principal"),
    ("trust", _edit(GOOD_TRUST, 0, Principal={"Everyone": "*"}), "unknown principal type"),
    ("trust", _edit(GOOD_TRUST, 0, Principal="anyone"), "Principal must be"),
    ("trust", _edit(GOOD_TRUST, 0, Principal=None), "needs exactly one of Principal"),
    ("trust", _edit(GOOD_TRUST, 0, Resource="*"), "may not name a resource"),
    ("trust", _edit(GOOD_TRUST, 0, Action="iam:PassRole"), "no place in a trust policy"),
    ("resource", _edit(GOOD_TRUST, 0, Action="s3:GetObject"), "exactly one of Resource"),
    ("resource", _edit(GOOD_IDENTITY, 0, Principal=None), "needs exactly one of Principal"),
]


@pytest.mark.parametrize(("kind", "doc", "says"), BAD, ids=[f"{i}-{b[2]}" for i, b in enumerate(BAD)])
def test_the_linter_refuses_what_iam_refuses(kind: Any, doc: dict[str, Any], says: str) -> None:
    problems = grammar(doc, kind)
    assert problems and any(says in p for p in problems), problems


def test_parliament_sees_unknown_actions_too() -> None:
    assert any(
        "UNKNOWN_ACTION" in f for f in parliament_findings(_edit(GOOD_IDENTITY, 0, Action="s3:GetObjekt"), "identity")
    )
    assert any(
        "UNKNOWN_PRINCIPAL" in f for f in parliament_findings(_edit(GOOD_TRUST, 3, Principal={"AWS": "XX*XX"}), "trust")
    )


# -- the documents irkit builds -----------------------------------------------------------------


def test_the_session_revocation_deny_is_well_formed() -> None:
    doc = deny_older_sessions(datetime(2026, 11, 25, 20, 30, 15, tzinfo=UTC))
    assert lint(doc, "identity", quota="inline-user") == []
    assert lint(json.dumps(doc), "identity", quota="inline-role") == []


def test_the_trust_lock_is_well_formed() -> None:
    assert lint(locked_trust_policy(), "trust") == []


def _archives() -> list[LogArchiveSettings | None]:
    return [
        None,
        LogArchiveSettings("org-trail"),
        LogArchiveSettings(
            "org-trail", prefix="cloudtrail", role_arn="arn:aws:iam::222222222222:role/irkit-log-reader"
        ),
        LogArchiveSettings("org-trail", organization_id="o-abc123", accounts=("111111111111",)),
    ]


@pytest.mark.parametrize("name", sorted(shipped_runbooks()))
def test_the_generated_least_privilege_policies_are_well_formed(name: str) -> None:
    book = load_runbook(name)
    checked = 0
    for archive in _archives():
        for doc in (responder_policy(book, archive), archive_policy(book, archive)):
            if doc["Statement"]:
                assert lint(doc, "identity", quota="managed") == [], (archive, doc)
                checked += 1
    assert checked >= len(_archives()) + 1


@pytest.mark.parametrize("role", ["responder", "log-reader"])
def test_the_printed_permissions_are_well_formed(role: str, tmp_path: Path) -> None:
    config = tmp_path / "irkit.yaml"
    config.write_text(
        "log_archive:\n  bucket: org-trail\n  prefix: logs\n"
        "  role_arn: arn:aws:iam::222222222222:role/irkit-log-reader\n"
        "agents:\n  a:\n    account: '111111111111'\n    principals: ['arn:aws:iam::111111111111:role/agent']\n",
        encoding="utf-8",
    )
    for args in (["permissions", "--role", role], ["permissions", "--role", role, "--config", str(config)]):
        out = CliRunner().invoke(app, args)
        assert out.exit_code == 0, out.output
        assert lint(out.output, "identity", quota="managed") == [], out.output


# -- documents on the wire: containment, restore, the drill ------------------------------------

POLICY_PARAMS = {
    "PutUserPolicy": ("identity", "inline-user"),
    "PutRolePolicy": ("identity", "inline-role"),
    "PutGroupPolicy": ("identity", "managed"),
    "CreatePolicy": ("identity", "managed"),
    "CreatePolicyVersion": ("identity", "managed"),
    "UpdateAssumeRolePolicy": ("trust", "trust"),
    "CreateRole": ("trust", "trust"),
    "PutBucketPolicy": ("resource", "bucket"),
}


def documents(calls: list[tuple[str, dict[str, Any]]], start: int = 0) -> list[tuple[str, str, str]]:
    """The policy documents among the calls: (operation, kind, document)."""
    out = []
    for name, params in calls[start:]:
        operation = name.split(":", 1)[1]
        doc = params.get("PolicyDocument") or params.get("AssumeRolePolicyDocument") or params.get("Policy")
        if operation in POLICY_PARAMS and doc is not None:
            out.append((operation, POLICY_PARAMS[operation][0], doc))
    return out


def lint_documents(sent: list[tuple[str, str, str]]) -> list[str]:
    problems = []
    for operation, kind, doc in sent:
        quota = POLICY_PARAMS[operation][1]
        problems.extend(f"{operation}: {p}" for p in lint(doc, kind, quota=quota))  # type: ignore[arg-type]
    return problems


def test_every_document_containment_and_restore_send_is_well_formed(
    world: World, attack: dict[str, Any], fake_detect: Any, tmp_path: Path, calls: list[tuple[str, dict[str, Any]]]
) -> None:
    # A role that already had an inline policy of irkit's name: restore puts that one back.
    before = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}
    world.iam.put_role_policy(RoleName=ROLE, PolicyName=ROLE_POLICY, PolicyDocument=json.dumps(before))
    start = len(calls)
    result = run(world, tmp_path / "cases", "contain", "detect", "contain_chain")
    contained = documents(calls, start)
    assert {op for op, _, _ in contained} >= {"PutUserPolicy", "PutRolePolicy", "UpdateAssumeRolePolicy"}
    out = CliRunner().invoke(app, ["restore", str(result.case.root), "--yes", "--include-chain"])
    assert out.exit_code == 3, out.output
    restored = documents(calls, start)[len(contained) :]
    assert {op for op, _, _ in restored} >= {"UpdateAssumeRolePolicy", "PutRolePolicy"}
    assert lint_documents(documents(calls, start)) == []
    # what restore sent back is what was there, not a document of irkit's making
    trusts = [json.loads(d) for op, _, d in restored if op == "UpdateAssumeRolePolicy"]
    assert TRUST in trusts
    assert before in [json.loads(d) for op, _, d in restored if op == "PutRolePolicy"]


def test_the_bucket_policy_rights_parliament_warns_about_come_only_with_revert() -> None:
    """The one resource-policy escalation the linter accepts (s3:PutBucketPolicy/PutBucketAcl on any
    bucket) belongs to revert's compensating undos: a runbook without revert never asks for it."""
    from tests.contain.conftest import runbook

    def s3_writes(doc: dict[str, Any]) -> set[str]:
        return {a for s in doc["Statement"] for a in s["Action"] if a in {"s3:PutBucketPolicy", "s3:PutBucketAcl"}}

    assert s3_writes(responder_policy(runbook("contain", "detect", "contain_chain"))) == set()
    assert s3_writes(responder_policy(load_runbook("agent-compromise"))) == {"s3:PutBucketPolicy", "s3:PutBucketAcl"}
