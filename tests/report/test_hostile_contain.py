"""`irkit contain` over an archive an attacker wrote into: the screen and report.md stay inert."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from irkit.cli import main
from tests.report.casefolder import HOSTILE_ROLE, assert_inert, tokens

ACCOUNT = "123456789012"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/agent-infra-optimizer"
USER_ARN = f"arn:aws:iam::{ACCOUNT}:user/agent-infra-bot"
EVIL_ID = "evt-\x1b]0;owned title\x07-\x1b]8;;http://evil.example/\x1b\\x\x1b]8;;\x1b\\-\x1b[2J"


def _record(name: str, when: datetime, event_id: str, **extra: Any) -> dict[str, Any]:
    return {
        "eventVersion": "1.09",
        "eventTime": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "eventSource": "iam.amazonaws.com",
        "eventName": name,
        "awsRegion": "us-east-1",
        "sourceIPAddress": "203.0.113.9",
        "userAgent": "aws-cli/2.15.0",
        "eventID": event_id,
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
def hostile_world(boto: Any, tmp_path: Path) -> Path:
    iam, s3 = boto("iam"), boto("s3")
    ec2_trust = {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}
    outside = {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::999999999999:root"}, "Action": "sts:AssumeRole"}
    iam.create_role(
        RoleName="agent-infra-optimizer",
        AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [ec2_trust]}),
    )
    backdoor_trust = json.dumps({"Version": "2012-10-17", "Statement": [outside]})
    iam.create_role(RoleName="backdoor", AssumeRolePolicyDocument=backdoor_trust)
    iam.create_user(UserName="agent-infra-bot")
    iam.create_access_key(UserName="agent-infra-bot")
    s3.create_bucket(Bucket="org-cloudtrail-archive")
    t = datetime.now(UTC) - timedelta(hours=1)
    records = [
        # denied, but its parameters are logged: the name reaches a finding's detail
        _record("CreateRole", t, "evt-denied", requestParameters={"roleName": HOSTILE_ROLE}, errorCode="AccessDenied"),
        # the attacker's own role; its forged event id reaches the chain, the notes and the screen
        _record(
            "CreateRole",
            t + timedelta(seconds=5),
            EVIL_ID,
            requestParameters={"roleName": "backdoor", "assumeRolePolicyDocument": backdoor_trust},
            responseElements={"role": {"arn": f"arn:aws:iam::{ACCOUNT}:role/backdoor", "roleName": "backdoor"}},
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
    config.write_text(
        f"aws:\n  region: us-east-1\n  endpoint_url: {iam.meta.endpoint_url}\n"
        "log_archive:\n  bucket: org-cloudtrail-archive\n  organization_id: o-abc123\n"
        f'  accounts: ["{ACCOUNT}"]\n  regions: ["us-east-1"]\n'
        f'agents:\n  infra-optimizer:\n    account: "{ACCOUNT}"\n    principals:\n'
        f"      - {ROLE_ARN}\n      - {USER_ARN}\n"
    )
    return config


def test_contain_over_a_hostile_archive_shows_and_runs_nothing(
    hostile_world: Path, tmp_path: Path, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    out = tmp_path / "cases"
    code = main(["contain", "infra-optimizer", "--config", str(hostile_world), "--hours", "4", "--yes",
                 "--out", str(out), "--case", "IR-HOSTILE"])  # fmt: skip
    screen = capsysbinary.readouterr()
    assert code in (0, 3), screen
    assert b"evt-\\x1b]0;owned title\\x07" in screen.out  # the forged id is on screen, as text
    for stream in (screen.out, screen.err):
        assert b"\x1b" not in stream and b"\x07" not in stream
    report = (out / "IR-HOSTILE" / "report.md").read_text(encoding="utf-8")
    assert "iam_role_created" in report and "backdoor" in report
    assert_inert(report)
    text = " ".join(t.content for t in tokens(report) if t.type in {"text", "code_inline"})
    assert "<script>alert(1)</script>" in text
