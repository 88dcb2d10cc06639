"""irkit baseline never learns an incident as normal, and says what it actually learned from."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from irkit.cli import main

AGENT_ARN = "arn:aws:iam::111111111111:user/agent-bot"
CONFIG = f"""
agents:
  agent-bot:
    account: "111111111111"
    principals:
      - {AGENT_ARN}
"""
NOW = datetime.now(UTC).replace(microsecond=0)


def _record(name: str, when: datetime, ip: str, source: str = "ec2.amazonaws.com", **req: object) -> dict[str, object]:
    return {
        "eventVersion": "1.09",
        "eventTime": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "eventSource": source,
        "eventName": name,
        "awsRegion": "us-east-1",
        "sourceIPAddress": ip,
        "userAgent": "Boto3/1.34.0",
        "eventID": f"evt-{name}-{when:%H%M%S}-{ip}",
        "eventType": "AwsApiCall",
        "recipientAccountId": "111111111111",
        "readOnly": name.startswith("Describe"),
        "userIdentity": {
            "type": "IAMUser",
            "arn": AGENT_ARN,
            "accountId": "111111111111",
            "accessKeyId": "AKIAEXAMPLEAGENT0001",
            "userName": "agent-bot",
        },
        "requestParameters": req,
        "responseElements": None,
    }


@pytest.fixture
def trail(tmp_path: Path) -> Path:
    normal = [_record("DescribeInstances", NOW - timedelta(hours=h), "10.0.0.5") for h in range(2, 8)]
    attack = [
        _record("AttachUserPolicy", NOW - timedelta(hours=1), "203.0.113.9", "iam.amazonaws.com",
                userName="agent-bot", policyArn="arn:aws:iam::aws:policy/AdministratorAccess"),
    ]  # fmt: skip
    folder = tmp_path / "trail"
    folder.mkdir()
    (folder / "t.json").write_text(json.dumps({"Records": normal + attack}))
    (tmp_path / "irkit.yaml").write_text(CONFIG)
    return folder


def _baseline(tmp_path: Path, *args: str) -> int:
    return main(["baseline", "agent-bot", "-c", str(tmp_path / "irkit.yaml"), "--out", str(tmp_path / "b.json"),
                 "--cases", str(tmp_path / "cases"), *args])  # fmt: skip


def test_flagged_events_are_left_out_and_counted(
    trail: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _baseline(tmp_path, "--from", str(trail), "--json") == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["excluded"]["flagged"] == 1 and "iam_admin_policy_attached" in doc["excluded_rules"]
    learned = json.loads((tmp_path / "b.json").read_text())
    assert "203.0.113.0/24" not in learned["networks"] and "iam:AttachUserPolicy" not in learned["apis"]
    assert learned["events"] == 6


def test_the_span_learned_from_is_said_not_the_requested_window(
    trail: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _baseline(tmp_path, "--from", str(trail)) == 0
    captured = capsys.readouterr()
    assert "5 hours of data" in captured.out  # six hourly calls: 5 hours apart, not "14 days"
    assert "asked for 14 days" in captured.err


def _case(tmp_path: Path, start: datetime, end: datetime) -> Path:
    root = tmp_path / "cases" / "IR-1"
    root.mkdir(parents=True)
    meta = {"case_id": "IR-1", "agent": "agent-bot", "runbook": "agent-compromise", "hours": 4.0,
            "dry_run": False, "created": end.isoformat(), "window_start": start.isoformat(),
            "window_end": end.isoformat()}  # fmt: skip
    (root / "case.json").write_text(json.dumps(meta))
    (root / "journal.jsonl").write_text("")
    return root


def test_a_window_overlapping_a_case_of_the_agent_is_not_learned(
    trail: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _case(tmp_path, NOW - timedelta(hours=4, minutes=30), NOW)
    assert _baseline(tmp_path, "--from", str(trail), "--json") == 0
    captured = capsys.readouterr()
    doc = json.loads(captured.out)
    assert doc["excluded"]["case IR-1"] == 3 and doc["excluded"]["flagged"] == 1  # hours 2-4; the attack
    assert doc["events"] == 3 and "overlaps" in captured.err


def test_learning_a_cases_own_evidence_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "irkit.yaml").write_text(CONFIG)
    case = _case(tmp_path, NOW - timedelta(hours=4), NOW)
    evidence = case / "evidence"
    evidence.mkdir()
    (evidence / "t.json").write_text(json.dumps({"Records": [_record("DescribeInstances", NOW, "10.0.0.5")]}))
    assert _baseline(tmp_path, "--from", str(evidence)) == 2
    assert "evidence of case IR-1" in capsys.readouterr().err
    assert not (tmp_path / "b.json").exists()
    assert _baseline(tmp_path, "--from", str(evidence), "--include-incident-window") == 0
    assert "WARNING" in capsys.readouterr().err
