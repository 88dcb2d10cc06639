"""`irkit contain` against a world built by a plain boto3 script (not the drill's builder)."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from irkit.cli import main

ACCOUNT = "123456789012"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/agent-infra-optimizer"
USER_ARN = f"arn:aws:iam::{ACCOUNT}:user/agent-infra-bot"


def record(name: str, source: str, when: datetime, **extra: Any) -> dict[str, Any]:
    return {
        "eventVersion": "1.09",
        "eventTime": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "eventSource": source,
        "eventName": name,
        "awsRegion": "us-east-1",
        "sourceIPAddress": "203.0.113.9",
        "userAgent": "aws-cli/2.15.0",
        "eventID": f"evt-{name}-{when:%H%M%S}",
        "userIdentity": {
            "type": "IAMUser",
            "arn": USER_ARN,
            "accountId": ACCOUNT,
            "accessKeyId": "AKIAEXAMPLEKEY000001",
        },
        "recipientAccountId": ACCOUNT,
        **extra,
    }


@pytest.fixture
def world(boto: Any, tmp_path: Path) -> dict[str, Any]:
    iam, s3 = boto("iam"), boto("s3")
    iam.create_role(
        RoleName="agent-infra-optimizer",
        AssumeRolePolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}
                ],
            }
        ),
    )
    iam.create_user(UserName="agent-infra-bot")
    keys = [iam.create_access_key(UserName="agent-infra-bot")["AccessKey"]["AccessKeyId"] for _ in range(2)]
    iam.create_login_profile(UserName="agent-infra-bot", Password="Some-Passw0rd!")
    s3.create_bucket(Bucket="org-cloudtrail-archive", ObjectLockEnabledForBucket=True)
    now = datetime.now(UTC)
    t = now - timedelta(hours=1)
    records = [
        record("CreateRole", "iam.amazonaws.com", t, requestParameters={"roleName": "backdoor"}),
        record(
            "AttachRolePolicy",
            "iam.amazonaws.com",
            t + timedelta(seconds=30),
            requestParameters={"roleName": "backdoor", "policyArn": "arn:aws:iam::aws:policy/AdministratorAccess"},
        ),
    ]
    delivered = t + timedelta(minutes=5)
    key = (
        f"AWSLogs/o-abc123/{ACCOUNT}/CloudTrail/us-east-1/{delivered:%Y/%m/%d}/"
        f"{ACCOUNT}_CloudTrail_us-east-1_{delivered:%Y%m%dT%H%MZ}_abcdef0123456789.json.gz"
    )
    s3.put_object(
        Bucket="org-cloudtrail-archive", Key=key, Body=gzip.compress(json.dumps({"Records": records}).encode())
    )
    config = tmp_path / "irkit.yaml"
    config.write_text(f"""
aws:
  region: us-east-1
  endpoint_url: {boto("iam").meta.endpoint_url}
log_archive:
  bucket: org-cloudtrail-archive
  organization_id: o-abc123
  accounts: ["{ACCOUNT}"]
  regions: ["us-east-1"]
agents:
  infra-optimizer:
    account: "{ACCOUNT}"
    principals:
      - {ROLE_ARN}
      - {USER_ARN}
""")
    return {"config": config, "keys": keys, "iam": iam, "log_key": key}


def state(iam: Any) -> dict[str, Any]:
    try:
        iam.get_login_profile(UserName="agent-infra-bot")
        login = True
    except iam.exceptions.NoSuchEntityException:
        login = False
    return {
        "keys": sorted(
            (k["AccessKeyId"], k["Status"])
            for k in iam.list_access_keys(UserName="agent-infra-bot")["AccessKeyMetadata"]
        ),
        "user_policies": iam.list_user_policies(UserName="agent-infra-bot")["PolicyNames"],
        "role_policies": iam.list_role_policies(RoleName="agent-infra-optimizer")["PolicyNames"],
        "trust": iam.get_role(RoleName="agent-infra-optimizer")["Role"]["AssumeRolePolicyDocument"],
        "login": login,
    }


def test_contain_revokes_everything_and_keeps_the_keys(world: dict[str, Any], tmp_path: Path) -> None:
    out = tmp_path / "cases"
    code = main(
        ["contain", "infra-optimizer", "--config", str(world["config"]), "--hours", "4", "--yes", "--out", str(out)]
    )
    assert code in (0, 3)
    iam = world["iam"]
    keys = iam.list_access_keys(UserName="agent-infra-bot")["AccessKeyMetadata"]
    assert sorted(k["AccessKeyId"] for k in keys) == sorted(world["keys"])
    assert {k["Status"] for k in keys} == {"Inactive"}
    names = iam.list_role_policies(RoleName="agent-infra-optimizer")["PolicyNames"]
    assert "AWSRevokeOlderSessions" in names
    doc = iam.get_role_policy(RoleName="agent-infra-optimizer", PolicyName="AWSRevokeOlderSessions")["PolicyDocument"]
    stmt = doc["Statement"][0]
    assert stmt["Effect"] == "Deny" and "aws:TokenIssueTime" in stmt["Condition"]["DateLessThan"]
    with pytest.raises(iam.exceptions.NoSuchEntityException):
        iam.get_login_profile(UserName="agent-infra-bot")
    (case,) = out.iterdir()
    report = (case / "report.md").read_text()
    assert "deactivate-access-key" in report and world["keys"][0] in report
    assert (case / "evidence" / world["log_key"]).exists()
    assert "Some-Passw0rd" not in report


def test_contain_dry_run_changes_nothing_and_prints_the_plan(
    world: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = state(world["iam"])
    code = main(
        [
            "contain",
            "infra-optimizer",
            "--config",
            str(world["config"]),
            "--hours",
            "4",
            "--dry-run",
            "--out",
            str(tmp_path / "cases"),
        ]
    )
    assert code in (0, 3)
    assert state(world["iam"]) == before
    out = capsys.readouterr().out
    assert "DRY RUN" in out
    for key in world["keys"]:
        assert f"deactivate-access-key {USER_ARN}: {key}" in out
    assert "revoke-role-sessions" in out and "delete-login-profile" in out


def test_contain_json_outcome(world: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        [
            "contain",
            "infra-optimizer",
            "--config",
            str(world["config"]),
            "--hours",
            "4",
            "--yes",
            "--out",
            str(tmp_path / "c"),
            "--json",
        ]
    )
    doc = json.loads(capsys.readouterr().out)
    assert doc["exit_code"] == code
    assert doc["steps"][0]["id"] == "contain"


def test_missing_profile_is_a_config_error_before_any_case(world: dict[str, Any], tmp_path: Path) -> None:
    config = world["config"]
    config.write_text(config.read_text().replace("  region: us-east-1\n", "  region: us-east-1\n  profile: nope\n", 1))
    out = tmp_path / "cases"
    assert main(["contain", "infra-optimizer", "--config", str(config), "--yes", "--out", str(out)]) == 2
    assert not out.exists()


def test_unreadable_public_key_is_a_gap_not_a_failure(
    world: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = world["config"]
    config.write_text(config.read_text().replace("  regions:", '  public_keys: ["keys/none.pem"]\n  regions:', 1))
    code = main(["contain", "infra-optimizer", "--config", str(config), "--hours", "4", "--yes",
                 "--out", str(tmp_path / "cases")])  # fmt: skip
    assert code == 3
    out = capsys.readouterr().out
    assert "gap: digest-chain: cannot read public key" in out
    assert "collect: 1 files" in out


def test_a_configured_baseline_that_is_missing_is_a_gap(
    world: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = world["config"]
    config.write_text(config.read_text() + "    baseline: nowhere/baseline.json\n")
    code = main(["contain", "infra-optimizer", "--config", str(config), "--hours", "4", "--yes",
                 "--out", str(tmp_path / "cases")])  # fmt: skip
    assert code == 3
    assert "the configured baseline does not exist" in capsys.readouterr().out
