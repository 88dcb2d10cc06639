"""No silent all-clear: a principal with no events, findings over a threshold, an unread window."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from irkit.cli import main
from tests.contain.conftest import World, world

__all__ = ["world"]

AGENT = "arn:aws:iam::111111111111:user/agent-bot"


def _record(name: str, source: str = "iam.amazonaws.com", **request: object) -> dict[str, object]:
    return {
        "eventVersion": "1.09",
        "eventTime": "2026-11-25T20:00:00Z",
        "eventSource": source,
        "eventName": name,
        "awsRegion": "us-east-1",
        "sourceIPAddress": "198.51.100.7",
        "userAgent": "aws-cli/2",
        "eventID": f"evt-{name}",
        "eventType": "AwsApiCall",
        "recipientAccountId": "111111111111",
        "userIdentity": {
            "type": "IAMUser",
            "arn": AGENT,
            "accountId": "111111111111",
            "accessKeyId": "AKIAEXAMPLEAGENT0001",
            "userName": "agent-bot",
        },
        "requestParameters": request,
        "responseElements": None,
    }


@pytest.fixture
def logs(tmp_path: Path) -> Path:
    folder = tmp_path / "logs"
    folder.mkdir()
    records = [
        _record("ListUsers"),
        _record("AttachUserPolicy", userName="agent-bot", policyArn="arn:aws:iam::aws:policy/AdministratorAccess"),
    ]
    (folder / "trail.json").write_text(json.dumps({"Records": records}))
    return folder


def test_a_principal_with_no_events_is_a_named_gap_not_an_all_clear(
    logs: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    typo = "arn:aws:iam::111111111111:user/agent-bto"
    assert main(["analyze", str(logs), "--principal", typo]) == 3
    out = capsys.readouterr().out
    assert typo in out and "no events" in out
    assert main(["analyze", str(logs), "--principal", typo, "--json"]) == 3
    doc = json.loads(capsys.readouterr().out)
    assert any(g["path"] == f"--principal {typo}" and "no events" in g["reason"] for g in doc["gaps"])


def test_a_principal_with_events_is_no_gap(logs: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["analyze", str(logs), "--principal", AGENT, "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["events"] == 2 and not doc["gaps"]


def test_fail_on_exits_1_at_or_above_the_threshold(logs: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["analyze", str(logs)]) == 0  # findings alone are data, not a failure
    assert main(["analyze", str(logs), "--fail-on", "high"]) == 1
    assert "iam_admin_policy_attached" in capsys.readouterr().err
    assert main(["analyze", str(logs), "--fail-on", "critical", "--json"]) in (0, 1)
    doc = json.loads(capsys.readouterr().out)
    top = {f["severity"] for f in doc["findings"]}
    assert (main(["analyze", str(logs), "--fail-on", "critical"]) == 1) == ("critical" in top)
    assert main(["analyze", str(logs), "--fail-on", "severe"]) == 2


def test_report_says_not_analysed_when_no_event_was_read(
    world: World, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "cases"
    code = main(["contain", "infra-optimizer", "-c", str(world.config), "--dry-run", "--out", str(out)])
    assert code == 3
    (case,) = out.iterdir()
    report = (case / "report.md").read_text()
    assert "- **Findings**: **not analysed**" in report
    assert "Findings**: none" not in report
