"""A small AWS world for containment tests: an agent with a role and a user, built on moto server."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from irkit.config import Settings, load_config
from irkit.engine.run import RunResult, start_run
from irkit.engine.runbook import parse_runbook

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
    return start_run(
        world.settings,
        agent_name="infra-optimizer",
        runbook=runbook(*steps),
        hours=1,
        out=out,
        config_file=world.config,
        echo=lambda _line: None,
        **kwargs,
    )


def step_output(result: RunResult, step_id: str) -> dict[str, Any]:
    for entry in result.case.journal.entries():
        if entry["kind"] == "step.done" and entry["step"] == step_id:
            return dict(entry["data"]["output"])
    raise AssertionError(f"no step.done for {step_id}")
