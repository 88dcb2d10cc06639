"""The credential chain: what the stolen agent credentials created is contained too, round after round."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from irkit.containment.actions import ROLE_POLICY, USER_POLICY, is_locked, trusted_principals
from irkit.containment.snapshot import policy_doc
from irkit.steps import revoke_chain
from irkit.steps.base import Plan, RunContext, StepResult
from irkit.steps.detect import Detect
from tests.containment.conftest import ACCOUNT, OUTSIDE, USER_ARN, World, run, step_output

EXT_TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{OUTSIDE}:root"}, "Action": "sts:AssumeRole"}
    ],
}


def link(kind: str, identifier: str, parent: str, name: str | None = None, **extra: Any) -> dict[str, Any]:
    return {
        "kind": kind,
        "identifier": identifier,
        "name": name,
        "parent": parent,
        "event_id": f"evt-{kind}-{identifier[-6:]}",
        "event_name": {
            "user": "CreateUser",
            "access_key": "CreateAccessKey",
            "role": "CreateRole",
            "session": "AssumeRole",
            "login_profile": "CreateLoginProfile",
        }[kind],
        "event_time": "2026-11-25T20:00:00Z",
        "external_accounts": extra.get("external_accounts", []),
    }


@pytest.fixture
def attack(world: World) -> dict[str, Any]:
    """What the stolen agent credentials did: a backdoor user with a key, a role trusting an outside
    account, a key and a console password for an existing admin, and (seen only on re-analysis) a
    second user created with the backdoor user's key."""
    iam = world.iam
    iam.create_user(UserName="backdoor")
    bkey = iam.create_access_key(UserName="backdoor")["AccessKey"]["AccessKeyId"]
    iam.create_role(RoleName="ext-admin", AssumeRolePolicyDocument=json.dumps(EXT_TRUST))
    iam.create_user(UserName="ops-admin")
    legit = iam.create_access_key(UserName="ops-admin")["AccessKey"]["AccessKeyId"]
    stolen = iam.create_access_key(UserName="ops-admin")["AccessKey"]["AccessKeyId"]
    iam.create_login_profile(UserName="ops-admin", Password="Another-Pa55word!")
    iam.create_user(UserName="backdoor2")
    b2key = iam.create_access_key(UserName="backdoor2")["AccessKey"]["AccessKeyId"]
    iam.create_user(UserName="bystander")
    bystander_key = iam.create_access_key(UserName="bystander")["AccessKey"]["AccessKeyId"]
    agent_key = world.key_ids[0]
    ext_arn = f"arn:aws:iam::{ACCOUNT}:role/ext-admin"
    first = [
        link("user", f"arn:aws:iam::{ACCOUNT}:user/backdoor", USER_ARN, "backdoor"),
        link("access_key", bkey, USER_ARN, "backdoor"),
        link("role", ext_arn, agent_key, "ext-admin", external_accounts=[OUTSIDE]),
        link("session", f"arn:aws:sts::{ACCOUNT}:assumed-role/ext-admin/x", USER_ARN, "ext-admin"),
        link("access_key", stolen, f"arn:aws:sts::{ACCOUNT}:assumed-role/ext-admin/x", None),
        link("login_profile", f"arn:aws:iam::{ACCOUNT}:user/ops-admin", USER_ARN, "ops-admin"),
        # Not descended from the agent: must be refused, whatever the detector says.
        link("access_key", bystander_key, "arn:aws:iam::123456789012:user/someone-else", "bystander"),
    ]
    second = [
        link("user", f"arn:aws:iam::{ACCOUNT}:user/backdoor2", bkey, "backdoor2"),
        link("access_key", b2key, bkey, "backdoor2"),
    ]
    return {
        "first": first,
        "second": second,
        "legit": legit,
        "stolen": stolen,
        "bkey": bkey,
        "b2key": b2key,
        "bystander_key": bystander_key,
    }


@pytest.fixture
def fake_detect(monkeypatch: pytest.MonkeyPatch, attack: dict[str, Any]) -> list[Sequence[str]]:
    """Detection stands in: the first chain from `detect`, the rest from re-analysis."""
    calls: list[Sequence[str]] = []

    def plan(self: Detect, ctx: RunContext) -> Plan:
        return Plan(self.step_id, notes=("fake detection",))

    def apply(self: Detect, ctx: RunContext, plan: Plan) -> StepResult:
        ctx.case.write_json(
            "findings.json", {"events": 7, "files": 1, "findings": [], "chain": attack["first"]}
        )
        return StepResult(
            "fake", {"events": 7, "files": 1, "findings": 0, "chain": attack["first"], "rule_ids": []}
        )

    def analyzer(paths: Sequence[Path], principals: Sequence[str]) -> list[Any]:
        calls.append(list(principals))
        return attack["first"] + (attack["second"] if attack["bkey"] in principals else [])

    monkeypatch.setattr(Detect, "plan", plan)
    monkeypatch.setattr(Detect, "apply", apply)
    monkeypatch.setattr(revoke_chain, "ANALYZER", analyzer)
    return calls


def _status(iam: Any, user: str) -> dict[str, str]:
    return {k["AccessKeyId"]: k["Status"] for k in iam.list_access_keys(UserName=user)["AccessKeyMetadata"]}


def test_chain_created_user_key_and_external_role_are_contained(
    world: World, attack: dict[str, Any], fake_detect: list[Sequence[str]], tmp_path: Path
) -> None:
    result = run(world, tmp_path / "cases", "revoke", "detect", "revoke_chain", "report")
    iam = world.iam
    # the agent
    assert set(_status(iam, "agent-infra-bot").values()) == {"Inactive"}
    # the created user and its key
    assert _status(iam, "backdoor") == {attack["bkey"]: "Inactive"}
    assert USER_POLICY in iam.list_user_policies(UserName="backdoor")["PolicyNames"]
    # the created role that trusted an outside account
    trust = policy_doc(iam.get_role(RoleName="ext-admin")["Role"]["AssumeRolePolicyDocument"])
    assert is_locked(trust) and not trusted_principals(trust)
    assert ROLE_POLICY in iam.list_role_policies(RoleName="ext-admin")["PolicyNames"]
    # a key created for an existing user: that key alone; the console password it set: removed
    assert _status(iam, "ops-admin") == {attack["legit"]: "Active", attack["stolen"]: "Inactive"}
    assert USER_POLICY not in iam.list_user_policies(UserName="ops-admin")["PolicyNames"]
    with pytest.raises(iam.exceptions.NoSuchEntityException):
        iam.get_login_profile(UserName="ops-admin")
    # round 2: what the backdoor's key created
    assert _status(iam, "backdoor2") == {attack["b2key"]: "Inactive"}
    assert any(attack["bkey"] in p for p in fake_detect)
    # not descended from the agent: untouched
    assert _status(iam, "bystander") == {attack["bystander_key"]: "Active"}

    out = step_output(result, "revoke_chain")
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
    result = run(world, tmp_path / "cases", "detect", "revoke_chain", max_actions=3)
    assert _status(world.iam, "backdoor") == {attack["bkey"]: "Active"}
    assert any("max_actions=3" in g.reason for g in result.outcome.gaps)


def test_floor_contain_chain_then_restore_brings_back_the_agent_only(
    world: World, attack: dict[str, Any], fake_detect: list[Sequence[str]], tmp_path: Path
) -> None:
    from typer.testing import CliRunner

    from irkit.cli import app
    from irkit.containment.snapshot import comparable, take_snapshot

    agent = world.settings.agent("infra-optimizer").principals
    ignore = frozenset({"login_profile"})
    before = {p.arn: comparable(take_snapshot(world.iam, p), ignore=ignore) for p in agent}
    result = run(world, tmp_path / "cases", "revoke", "detect", "revoke_chain", "report")
    out = CliRunner().invoke(app, ["restore", str(result.case.root), "--yes"])
    assert out.exit_code == 3, out.output
    after = {p.arn: comparable(take_snapshot(world.iam, p), ignore=ignore) for p in agent}
    assert after == before
    # what the stolen credentials created stays contained
    assert _status(world.iam, "backdoor") == {attack["bkey"]: "Inactive"}
    assert is_locked(world.iam.get_role(RoleName="ext-admin")["Role"]["AssumeRolePolicyDocument"])
    assert "left contained" in out.output and "--include-chain" in out.output


def test_restore_include_chain_reopens_chain_principals_exactly(
    world: World, attack: dict[str, Any], fake_detect: list[Sequence[str]], tmp_path: Path
) -> None:
    from typer.testing import CliRunner

    from irkit.cli import app
    from irkit.containment.snapshot import comparable

    result = run(world, tmp_path / "cases", "revoke", "detect", "revoke_chain")
    out = CliRunner().invoke(app, ["restore", str(result.case.root), "--yes", "--include-chain"])
    assert out.exit_code == 3, out.output  # console passwords (agent, ops-admin) are named gaps
    assert _status(world.iam, "backdoor") == {attack["bkey"]: "Active"}
    trust = policy_doc(world.iam.get_role(RoleName="ext-admin")["Role"]["AssumeRolePolicyDocument"])
    assert trust == comparable(result.case.read_json("snapshots/role-ext-admin.json"))["trust_policy"]
