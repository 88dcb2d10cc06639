"""Least privilege: the generated responder policy is enough (moto with IAM auth on), and a missing
action is a named gap while every other principal is still contained."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from typer.testing import CliRunner

from irkit.aws.guard import is_read_only
from irkit.aws.session import StaticCredentials
from irkit.cli import app
from irkit.contain.actions import ROLE_POLICY, is_locked
from irkit.engine import permissions_doc
from irkit.engine.permissions import archive_policy, dry_run_policy, responder_policy
from irkit.engine.runbook import load_runbook
from irkit.steps import registry
from tests.contain.conftest import ROLE, USER, USER_ARN, World, run, runbook, step_output

DOC = Path(__file__).resolve().parents[2] / "docs" / "permissions.md"
STEPS = ("contain", "detect", "contain_chain", "report")


def _auth(endpoint: str, count: str) -> None:
    # text/plain: with urllib's default form content type the server parses the body away.
    req = urllib.request.Request(  # noqa: S310 - loopback moto server only
        f"{endpoint}/moto-api/reset-auth",
        data=count.encode(),
        method="POST",
        headers={"Content-Type": "text/plain"},
    )
    with urllib.request.urlopen(req, timeout=10):  # noqa: S310 - loopback moto server only
        pass


@pytest.fixture
def iam_auth(aws_endpoint: str) -> Iterator[Callable[[bool], None]]:
    """Switch moto's IAM authentication on (every request checked) and off; always off afterwards."""

    def switch(on: bool) -> None:
        _auth(aws_endpoint, "0" if on else "inf")

    try:
        yield switch
    finally:
        switch(False)


def responder(world: World, policy: dict[str, Any], name: str = "irkit-responder") -> StaticCredentials:
    iam = world.iam
    iam.create_user(UserName=name)
    iam.put_user_policy(UserName=name, PolicyName="irkit", PolicyDocument=json.dumps(policy))
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return StaticCredentials(key["AccessKeyId"], key["SecretAccessKey"])


def test_contain_and_chain_need_nothing_beyond_the_generated_policy(
    world: World,
    attack: dict[str, Any],
    fake_detect: list[Sequence[str]],
    iam_auth: Callable[[bool], None],
    tmp_path: Path,
) -> None:
    creds = responder(world, responder_policy(runbook(*STEPS)))
    iam_auth(True)
    with pytest.raises(ClientError):  # authentication is really on: unknown keys are refused
        world.iam.list_users()
    try:
        result = run(world, tmp_path / "cases", *STEPS, credentials=creds)
    finally:
        iam_auth(False)
    reasons = [f"{g.path}: {g.reason}" for g in result.outcome.gaps]
    assert not [r for r in reasons if "AccessDenied" in r], reasons
    assert result.outcome.failed == []
    # the only gap is the link that does not lead back to the agent
    assert reasons == [r for r in reasons if attack["bystander_key"] in r]
    for step_id in ("contain", "contain_chain"):
        out = step_output(result, step_id)
        assert out["contained"] and all(r["verified"] for r in out["contained"])
        assert not [n for n in out["notes"] if "GetCallerIdentity" in n]
    # the unauthenticated fallback was never used: the restore must work under the same policy
    iam_auth(True)
    try:
        out = CliRunner(
            env={"AWS_ACCESS_KEY_ID": creds.access_key_id, "AWS_SECRET_ACCESS_KEY": creds.secret_access_key}
        ).invoke(app, ["restore", str(result.case.root), "--yes"])
    finally:
        iam_auth(False)
    assert "AccessDenied" not in out.output, out.output
    assert out.exit_code == 3, out.output


def test_a_missing_permission_is_a_named_gap_and_the_rest_is_contained(
    world: World, iam_auth: Callable[[bool], None], tmp_path: Path
) -> None:
    policy = responder_policy(runbook("contain"))
    for statement in policy["Statement"]:
        statement["Action"] = [a for a in statement["Action"] if a != "iam:DeleteLoginProfile"]
    creds = responder(world, policy)
    iam_auth(True)
    try:
        result = run(world, tmp_path / "cases", "contain", credentials=creds)
    finally:
        iam_auth(False)
    gaps = [f"{g.path}: {g.reason}" for g in result.outcome.gaps]
    assert any(g.startswith(f"iam:DeleteLoginProfile on {USER_ARN}") and "AccessDenied" in g for g in gaps), gaps
    assert int(result.outcome.exit_code) == 3
    iam = world.iam
    assert {k["Status"] for k in iam.list_access_keys(UserName=USER)["AccessKeyMetadata"]} == {"Inactive"}
    assert ROLE_POLICY in iam.list_role_policies(RoleName=ROLE)["PolicyNames"]
    assert is_locked(iam.get_role(RoleName=ROLE)["Role"]["AssumeRolePolicyDocument"])
    rows = {r["action"]: r for r in step_output(result, "contain")["contained"]}
    assert rows["delete-login-profile"]["verified"] is False
    assert rows["deactivate-access-key"]["verified"] is True


def test_every_mutating_step_declares_its_permissions() -> None:
    mutating = {name: cls for name, cls in registry().items() if cls.mutates}
    assert {"contain", "contain_chain", "revert"} <= set(mutating)  # the check below is about real steps
    undeclared = [name for name, cls in mutating.items() if not cls.permissions]
    assert undeclared == [], f"steps that change AWS but declare no IAM permissions: {undeclared}"


def test_the_committed_permissions_doc_is_current() -> None:
    assert DOC.read_text(encoding="utf-8") == permissions_doc.render(), (
        "docs/permissions.md is stale: python -m irkit.engine.permissions_doc > docs/permissions.md"
    )


def test_permissions_command_prints_both_policies(tmp_path: Path) -> None:
    out = CliRunner().invoke(app, ["permissions"])
    assert out.exit_code == 0, out.output
    policy = json.loads(out.output)
    actions = {a for s in policy["Statement"] for a in s["Action"]}
    assert {"iam:UpdateAccessKey", "iam:UpdateAssumeRolePolicy", "iam:UntagUser"} <= actions
    # The archive is read by the log-reader role; the responder's S3 actions are bucket settings the
    # revert restores, never a read of objects or listings.
    assert not {a for a in actions if a.startswith(("s3:GetObject", "s3:List"))}
    reader = CliRunner().invoke(app, ["permissions", "--role", "log-reader"])
    assert reader.exit_code == 0, reader.output
    assert {a for s in json.loads(reader.output)["Statement"] for a in s["Action"]} >= {
        "s3:GetObject",
        "s3:ListBucket",
    }
    book = load_runbook("agent-compromise")
    assert "sts:AssumeRole" not in json.dumps(archive_policy(book))


def test_a_dry_run_needs_nothing_beyond_the_dry_run_policy(
    world: World,
    attack: dict[str, Any],
    fake_detect: list[Sequence[str]],
    iam_auth: Callable[[bool], None],
    tmp_path: Path,
) -> None:
    """A staging drill's role (``irkit permissions --dry-run``) is enough for ``contain --dry-run``."""
    policy = dry_run_policy(runbook(*STEPS))
    creds = responder(world, policy, name="irkit-rehearsal")
    before = world.iam.list_access_keys(UserName=USER)["AccessKeyMetadata"]
    assert "Active" in {k["Status"] for k in before}
    iam_auth(True)
    try:
        result = run(world, tmp_path / "cases", *STEPS, credentials=creds, dry_run=True)
    finally:
        iam_auth(False)
    reasons = [f"{g.path}: {g.reason}" for g in result.outcome.gaps]
    assert not [r for r in reasons if "AccessDenied" in r], reasons
    assert result.outcome.failed == []
    assert world.iam.list_access_keys(UserName=USER)["AccessKeyMetadata"] == before  # nothing changed


def test_the_dry_run_policy_holds_only_what_the_guard_lets_through() -> None:
    book = load_runbook("agent-compromise")
    full = {a for s in responder_policy(book)["Statement"] for a in s["Action"]}
    reads = [a for s in dry_run_policy(book)["Statement"] for a in s["Action"]]
    assert reads, "the dry-run policy is empty"
    assert set(reads) < full
    refused = [a for a in reads if not is_read_only(*a.split(":", 1))]
    assert refused == []
    assert "iam:UpdateAccessKey" in full and "iam:UpdateAccessKey" not in reads


def test_permissions_dry_run_prints_the_read_only_policy() -> None:
    out = CliRunner().invoke(app, ["permissions", "--dry-run"])
    assert out.exit_code == 0, out.output
    actions = {a for s in json.loads(out.output)["Statement"] for a in s["Action"]}
    assert "iam:ListAccessKeys" in actions
    assert not [a for a in actions if a.split(":", 1)[1].startswith(("Update", "Put", "Delete", "Create", "Attach"))]
