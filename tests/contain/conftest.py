"""A small AWS world for containment tests: an agent with a role and a user, built on moto server."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from irkit.config import Settings, load_config
from irkit.core.context import RunContext
from irkit.core.plan import Plan, StepResult
from irkit.engine.run import RunResult, start_run
from irkit.engine.runbook import parse_runbook
from irkit.steps import contain_chain
from irkit.steps.detect import Detect

ACCOUNT = "123456789012"  # moto's default account
OUTSIDE = "999988887777"
ROLE = "agent-infra-optimizer"
USER = "agent-infra-bot"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/{ROLE}"
USER_ARN = f"arn:aws:iam::{ACCOUNT}:user/{USER}"

TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"},
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "sts:AssumeRole"},
    ],
}
READ_ONLY = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "s3:Get*", "Resource": "*"}],
}


@dataclass
class World:
    endpoint: str
    iam: Any
    config: Path
    settings: Settings
    key_ids: list[str]


def write_config(path: Path, endpoint: str, principals: list[str]) -> Path:
    lines = [
        "aws:",
        "  region: us-east-1",
        f"  endpoint_url: {endpoint}",
        "agents:",
        "  infra-optimizer:",
        f'    account: "{ACCOUNT}"',
        "    principals:",
        *[f"      - {p}" for p in principals],
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def build_agent(iam: Any) -> list[str]:
    iam.create_role(
        RoleName=ROLE, AssumeRolePolicyDocument=json.dumps(TRUST), Tags=[{"Key": "team", "Value": "platform"}]
    )
    iam.put_role_policy(RoleName=ROLE, PolicyName="agent-inline", PolicyDocument=json.dumps(READ_ONLY))
    arn = iam.create_policy(PolicyName="agent-managed", PolicyDocument=json.dumps(READ_ONLY))["Policy"]["Arn"]
    iam.attach_role_policy(RoleName=ROLE, PolicyArn=arn)
    iam.create_instance_profile(InstanceProfileName="agent-profile")
    iam.add_role_to_instance_profile(InstanceProfileName="agent-profile", RoleName=ROLE)
    iam.create_user(UserName=USER, Tags=[{"Key": "owner", "Value": "ml-team"}])
    keys = [iam.create_access_key(UserName=USER)["AccessKey"]["AccessKeyId"] for _ in range(2)]
    iam.update_access_key(UserName=USER, AccessKeyId=keys[1], Status="Inactive")  # an old rotated key
    iam.create_login_profile(UserName=USER, Password="Corr3ct-Horse-Battery!")
    iam.put_user_policy(UserName=USER, PolicyName="bot-inline", PolicyDocument=json.dumps(READ_ONLY))
    iam.attach_user_policy(UserName=USER, PolicyArn=arn)
    serial = iam.create_virtual_mfa_device(VirtualMFADeviceName="bot-mfa")["VirtualMFADevice"]["SerialNumber"]
    iam.enable_mfa_device(
        UserName=USER, SerialNumber=serial, AuthenticationCode1="123456", AuthenticationCode2="654321"
    )
    return keys


@pytest.fixture
def world(boto: Callable[..., Any], aws_endpoint: str, tmp_path: Path) -> World:
    iam = boto("iam")
    keys = build_agent(iam)
    config = write_config(tmp_path / "irkit.yaml", aws_endpoint, [ROLE_ARN, USER_ARN])
    return World(aws_endpoint, iam, config, load_config(config), keys)


def runbook(*steps: str | dict[str, Any]) -> Any:
    body = ["name: test-containment", "steps:"]
    for step in steps:
        if isinstance(step, str):
            body.append(f"  - step: {step}")
        else:
            body.append("  - " + json.dumps(step))
    return parse_runbook("\n".join(body) + "\n", source="test")


def run(world: World, out: Path, *steps: str | dict[str, Any], **kwargs: Any) -> RunResult:
    kwargs.setdefault("assume_yes", True)
    kwargs.setdefault("echo", lambda _line: None)
    return start_run(
        world.settings,
        agent_name="infra-optimizer",
        runbook=runbook(*steps),
        hours=1,
        out=out,
        config_file=world.config,
        **kwargs,
    )


def step_output(result: RunResult, step_id: str) -> dict[str, Any]:
    for entry in result.case.journal.entries():
        if entry["kind"] == "step.done" and entry["step"] == step_id:
            return dict(entry["data"]["output"])
    raise AssertionError(f"no step.done for {step_id}")


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
    monkeypatch.setattr(contain_chain, "ANALYZER", analyzer)
    return calls


def key_status(iam: Any, user: str) -> dict[str, str]:
    return {k["AccessKeyId"]: k["Status"] for k in iam.list_access_keys(UserName=user)["AccessKeyMetadata"]}
