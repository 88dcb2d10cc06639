"""After a kill and a resume, the report lists every containment action the journal holds.

The resumed step re-plans from what IAM shows: keys made Inactive before the crash are not planned
again, so its result no longer names them. The report reads the whole journal instead.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from irkit.cli import main
from irkit.contain import runner
from irkit.core.case import Case
from irkit.core.plan import Action
from irkit.report.build import APPLIED_UNVERIFIED, INTERRUPTED, VERIFIED, build_report
from irkit.report.markdown import render_markdown
from tests.report.casefolder import new_case

ACCOUNT = "123456789012"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/agent-infra-optimizer"
USER_ARN = f"arn:aws:iam::{ACCOUNT}:user/agent-infra-bot"


@pytest.fixture
def world(boto: Any, tmp_path: Path) -> dict[str, Any]:
    iam = boto("iam")
    trust = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}],
    }
    iam.create_role(RoleName="agent-infra-optimizer", AssumeRolePolicyDocument=json.dumps(trust))
    iam.create_user(UserName="agent-infra-bot")
    keys = [iam.create_access_key(UserName="agent-infra-bot")["AccessKey"]["AccessKeyId"] for _ in range(2)]
    iam.create_login_profile(UserName="agent-infra-bot", Password="Some-Passw0rd!")
    config = tmp_path / "irkit.yaml"
    config.write_text(
        f"aws:\n  region: us-east-1\n  endpoint_url: {iam.meta.endpoint_url}\n"
        f'agents:\n  infra-optimizer:\n    account: "{ACCOUNT}"\n    principals:\n'
        f"      - {ROLE_ARN}\n      - {USER_ARN}\n"
    )
    book = tmp_path / "contain-only.yaml"
    book.write_text(
        "name: contain-only\nsteps:\n  - {step: contain, id: contain, with: {workers: 1}}\n  - step: report\n"
    )
    return {"iam": iam, "keys": keys, "config": config, "runbook": book}


def test_a_resumed_run_reports_the_actions_applied_before_the_kill(
    world: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = runner.execute
    calls: list[Action] = []

    def killed_at_the_user_session_deny(iam: Any, action: Action, cutoff: Any) -> None:
        calls.append(action)
        if action.kind == "deny-user-sessions":  # journaled as started, never applied: the process dies here
            raise KeyboardInterrupt
        real(iam, action, cutoff)

    monkeypatch.setattr(runner, "execute", killed_at_the_user_session_deny)
    out = tmp_path / "cases"
    args = ["contain", "infra-optimizer", "--config", str(world["config"]), "--runbook", str(world["runbook"])]
    assert main([*args, "--yes", "--out", str(out), "--case", "IR-KILLED"]) == 130
    before = calls[:-1]
    # keys first: both of the user's keys were cut before the kill
    assert [a.kind for a in before[:2]] == ["deactivate-access-key"] * 2
    monkeypatch.setattr(runner, "execute", real)

    assert main(["resume", str(out / "IR-KILLED"), "--yes"]) == 0
    iam = world["iam"]
    assert {k["Status"] for k in iam.list_access_keys(UserName="agent-infra-bot")["AccessKeyMetadata"]} == {"Inactive"}

    report = (out / "IR-KILLED" / "report.md").read_text()
    section = report.split("## Containment actions", 1)[1].split("## Findings", 1)[0]
    for key in world["keys"]:  # applied before the kill, not planned again after it
        (row,) = [line for line in section.splitlines() if key in line]
        assert "deactivate-access-key" in row and "applied before the run stopped" in row
    assert "lock-trust-policy" in section
    assert section.count("deny-user-sessions") == 1  # interrupted, then applied and verified on resume
    doc = json.loads((out / "IR-KILLED" / "report.json").read_text())
    statuses = {(r["action"], r["principal"]): r["status"] for r in doc["containment"]}
    applied_before = {(a.kind, a.target) for a in before}
    assert statuses[("deny-user-sessions", USER_ARN)] == VERIFIED
    for (kind, target), status in statuses.items():
        expected = APPLIED_UNVERIFIED if (kind, target) in applied_before else VERIFIED
        assert status == expected, (kind, target)
    assert len(doc["containment"]) == 8
    assert f"- **Containment**: {8 - len(before)}/8 actions verified" in report


def _journal_a_kill(case: Case) -> None:
    """revoke applies two actions, starts a third and dies; nothing resumes it."""
    j = case.journal
    j.append("run.start", runbook="test", dry_run=False)
    j.append("step.start", step="contain", type="contain")
    keys = [Action("deactivate-access-key", USER_ARN, f"{k} (Active → Inactive)", {"user": "bot", "key_id": k})
            for k in ("AKIAEXAMPLE000000001", "AKIAEXAMPLE000000002")]  # fmt: skip
    for action in keys:
        j.append("action.start", step="contain", action=action.to_json())
        j.append("action.done", step="contain", action=action.to_json())
    deny = Action("deny-user-sessions", USER_ARN, "inline policy", {"user": "bot"})
    j.append("action.start", step="contain", action=deny.to_json())


def test_an_action_started_and_never_finished_is_never_reported_done(tmp_path: Path) -> None:
    case = new_case(tmp_path)
    _journal_a_kill(case)
    report = build_report(case, agent_principals=[USER_ARN])
    by_action = {r["action"]: r for r in report.containment}
    assert by_action["deny-user-sessions"]["status"] == INTERRUPTED
    assert by_action["deny-user-sessions"]["verified"] is False
    assert [r["status"] for r in report.containment if r["action"] == "deactivate-access-key"] == [
        APPLIED_UNVERIFIED
    ] * 2
    md = render_markdown(report)
    section = md.split("## Containment actions", 1)[1].split("## Findings", 1)[0]
    (row,) = [line for line in section.splitlines() if "deny-user-sessions" in line]
    assert "UNKNOWN: interrupted, verify by hand" in row
    assert "CONTAINMENT INCOMPLETE" in md  # nothing re-read IAM after the kill
    assert any("verify by hand" in g["reason"] for g in report.gaps)


def test_a_failed_step_is_named_with_its_error(tmp_path: Path) -> None:
    case = new_case(tmp_path)
    case.journal.append("run.start", runbook="test", dry_run=False)
    case.journal.append("step.start", step="detect", type="detect")
    case.journal.append(
        "step.failed", step="detect", type="detect", error="internal error in step detect: MemoryError: "
    )
    md = render_markdown(build_report(case, agent_principals=[USER_ARN]))
    assert "- **Failed steps**: `detect` failed: internal error in step detect: MemoryError:" in md
