"""The credential chain: what the stolen agent credentials created is contained too, round after round."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from irkit.contain.actions import ROLE_POLICY, USER_POLICY, is_locked, trusted_principals
from irkit.contain.snapshot import policy_doc
from tests.contain.conftest import ACCOUNT, OUTSIDE, World, key_status, run, step_output


def test_chain_created_user_key_and_external_role_are_contained(
    world: World, attack: dict[str, Any], fake_detect: list[Sequence[str]], tmp_path: Path
) -> None:
    result = run(world, tmp_path / "cases", "contain", "detect", "contain_chain", "report")
    iam = world.iam
    # the agent
    assert set(key_status(iam, "agent-infra-bot").values()) == {"Inactive"}
    # the created user and its key
    assert key_status(iam, "backdoor") == {attack["bkey"]: "Inactive"}
    assert USER_POLICY in iam.list_user_policies(UserName="backdoor")["PolicyNames"]
    # the created role that trusted an outside account
    trust = policy_doc(iam.get_role(RoleName="ext-admin")["Role"]["AssumeRolePolicyDocument"])
    assert is_locked(trust) and not trusted_principals(trust)
    assert ROLE_POLICY in iam.list_role_policies(RoleName="ext-admin")["PolicyNames"]
    # a key created for an existing user: that key alone; the console password it set: removed
    assert key_status(iam, "ops-admin") == {attack["legit"]: "Active", attack["stolen"]: "Inactive"}
    assert USER_POLICY not in iam.list_user_policies(UserName="ops-admin")["PolicyNames"]
    with pytest.raises(iam.exceptions.NoSuchEntityException):
        iam.get_login_profile(UserName="ops-admin")
    # round 2: what the backdoor's key created
    assert key_status(iam, "backdoor2") == {attack["b2key"]: "Inactive"}
    assert any(attack["bkey"] in p for p in fake_detect)
    # not descended from the agent: untouched
    assert key_status(iam, "bystander") == {attack["bystander_key"]: "Active"}

    out = step_output(result, "contain_chain")
    status = {(c["kind"], c["identifier"]): c["status"] for c in out["chain"]}
    assert status[("access_key", attack["bystander_key"])] == "refused"
    assert status[("user", f"arn:aws:iam::{ACCOUNT}:user/backdoor2")] == "contained"
    assert all(c["event_id"] for c in out["chain"])
    assert out["rounds"] == 2
    assert out["contained"] and all(r["verified"] for r in out["contained"])
    assert any(OUTSIDE in n for n in out["notes"])
    assert int(result.outcome.exit_code) == 3  # the refused link is a named gap
    assert any(g.path == attack["bystander_key"] for g in result.outcome.gaps)

    report = (result.case.root / "report.md").read_text()
    assert "## Credential chain" in report and "ext-admin" in report
    assert "arn:aws:iam::123456789012:user/backdoor2" in report  # its containment rows
    assert "stay valid until they expire" in report
    kinds = [e["kind"] for e in result.case.journal.entries()]
    assert "chain.round" in kinds


def test_max_actions_refuses_the_chain_when_exceeded(
    world: World, attack: dict[str, Any], fake_detect: list[Sequence[str]], tmp_path: Path
) -> None:
    result = run(world, tmp_path / "cases", "detect", "contain_chain", max_actions=3)
    assert key_status(world.iam, "backdoor") == {attack["bkey"]: "Active"}
    assert any("max_actions=3" in g.reason for g in result.outcome.gaps)


def test_floor_contain_chain_then_restore_brings_back_the_agent_only(
    world: World, attack: dict[str, Any], fake_detect: list[Sequence[str]], tmp_path: Path
) -> None:
    from typer.testing import CliRunner

    from irkit.cli import app
    from irkit.contain.snapshot import comparable, take_snapshot

    agent = world.settings.agent("infra-optimizer").principals
    ignore = frozenset({"login_profile"})
    before = {p.arn: comparable(take_snapshot(world.iam, p), ignore=ignore) for p in agent}
    result = run(world, tmp_path / "cases", "contain", "detect", "contain_chain", "report")
    out = CliRunner().invoke(app, ["restore", str(result.case.root), "--yes"])
    assert out.exit_code == 3, out.output
    after = {p.arn: comparable(take_snapshot(world.iam, p), ignore=ignore) for p in agent}
    assert after == before
    # what the stolen credentials created stays contained
    assert key_status(world.iam, "backdoor") == {attack["bkey"]: "Inactive"}
    assert is_locked(world.iam.get_role(RoleName="ext-admin")["Role"]["AssumeRolePolicyDocument"])
    assert "left contained" in out.output and "--include-chain" in out.output


def test_restore_include_chain_reopens_chain_principals_exactly(
    world: World, attack: dict[str, Any], fake_detect: list[Sequence[str]], tmp_path: Path
) -> None:
    from typer.testing import CliRunner

    from irkit.cli import app
    from irkit.contain.snapshot import comparable

    result = run(world, tmp_path / "cases", "contain", "detect", "contain_chain")
    out = CliRunner().invoke(app, ["restore", str(result.case.root), "--yes", "--include-chain"])
    assert out.exit_code == 3, out.output  # console passwords (agent, ops-admin) are named gaps
    assert key_status(world.iam, "backdoor") == {attack["bkey"]: "Active"}
    trust = policy_doc(world.iam.get_role(RoleName="ext-admin")["Role"]["AssumeRolePolicyDocument"])
    assert trust == comparable(result.case.read_json("snapshots/role-ext-admin.json"))["trust_policy"]


def test_floor_through_the_cli_with_the_shipped_runbook(
    world: World, attack: dict[str, Any], fake_detect: list[Sequence[str]], tmp_path: Path
) -> None:
    from typer.testing import CliRunner

    from irkit.cli import app

    out = tmp_path / "cases"
    res = CliRunner().invoke(
        app,
        [
            "contain",
            "infra-optimizer",
            "--config",
            str(world.config),
            "--hours",
            "4",
            "--yes",
            "--out",
            str(out),
        ],
    )
    assert res.exit_code == 3, res.output  # gaps: no log archive configured, one refused chain link
    iam = world.iam
    assert set(key_status(iam, "agent-infra-bot").values()) == {"Inactive"}
    assert key_status(iam, "backdoor") == {attack["bkey"]: "Inactive"}
    assert USER_POLICY in iam.list_user_policies(UserName="backdoor")["PolicyNames"]
    assert not trusted_principals(
        policy_doc(iam.get_role(RoleName="ext-admin")["Role"]["AssumeRolePolicyDocument"])
    )
    (case_dir,) = list(out.iterdir())
    report = (case_dir / "report.md").read_text()
    assert "## Credential chain" in report
    restored = CliRunner().invoke(app, ["restore", str(case_dir), "--yes"])
    assert restored.exit_code == 3, restored.output
    assert sorted(key_status(iam, "agent-infra-bot").values()) == ["Active", "Inactive"]


def test_an_approval_gated_chain_step_applies_the_approved_plan_on_resume(
    world: World, attack: dict[str, Any], fake_detect: list[Sequence[str]], tmp_path: Path
) -> None:
    from irkit.engine.run import resume_run

    gated = {"step": "contain_chain", "approval": True}
    first = run(world, tmp_path / "cases", "contain", "detect", gated, assume_yes=False)
    assert first.outcome.awaiting == "contain_chain"
    assert key_status(world.iam, "backdoor") == {attack["bkey"]: "Active"}  # nothing before approval
    resumed = resume_run(first.case.root, approvals=["contain_chain"], echo=lambda _l: None)
    assert resumed.outcome.awaiting is None
    assert key_status(world.iam, "backdoor") == {attack["bkey"]: "Inactive"}
    assert is_locked(world.iam.get_role(RoleName="ext-admin")["Role"]["AssumeRolePolicyDocument"])


def test_a_chain_role_left_trusting_outside_is_not_contained_without_the_trust_lock(
    world: World, attack: dict[str, Any], fake_detect: list[Sequence[str]], tmp_path: Path
) -> None:
    unlocked = {"step": "contain_chain", "with": {"lock_trust": False}}
    result = run(world, tmp_path / "cases", "contain", "detect", unlocked)
    assert ROLE_POLICY in world.iam.list_role_policies(RoleName="ext-admin")["PolicyNames"]  # sessions cut
    out = step_output(result, "contain_chain")
    role = next(c for c in out["chain"] if c["kind"] == "role")
    assert role["status"].startswith("NOT contained: trust policy not locked; it still admits")
    assert OUTSIDE in role["status"] and role["verified"] is False
    assert any(OUTSIDE in g.reason for g in result.outcome.gaps)


def test_a_key_created_after_the_plan_was_approved_keeps_its_user_not_contained(
    world: World, attack: dict[str, Any], fake_detect: list[Sequence[str]], tmp_path: Path
) -> None:
    from irkit.engine.run import resume_run

    gated = {"step": "contain_chain", "approval": True}
    first = run(world, tmp_path / "cases", "contain", "detect", gated, assume_yes=False)
    late = world.iam.create_access_key(UserName="backdoor")["AccessKey"]["AccessKeyId"]  # the attacker, still at it
    resumed = resume_run(first.case.root, approvals=["contain_chain"], echo=lambda _l: None)
    out = resumed.case.journal.entries()
    done = next(e for e in out if e["kind"] == "step.done" and e["step"] == "contain_chain")["data"]["output"]
    user = next(c for c in done["chain"] if c["kind"] == "user" and c["identifier"].endswith("user/backdoor"))
    assert key_status(world.iam, "backdoor")[late] == "Active"  # the approved plan did not name it
    assert user["status"] == f"NOT contained: access key {late} still Active" and not user["verified"]
    key_link = next(c for c in done["chain"] if c["identifier"] == attack["bkey"])
    assert key_link["status"] == "contained"  # that link's own credential is cut
    assert done["complete"] is False
