"""`irkit drill` end to end: the simulator, the attack, the runbook, the scorecard contract."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from irkit.cli import main
from irkit.drill.scenarios import all_scenarios

SCORECARD_KEYS = {
    "name",
    "passed",
    "contained",
    "detected",
    "expected",
    "residual",
    "report",
    "seconds",
    "exit_code",
    "problems",
}


def drill(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, dict[str, object]]:
    code = main(["drill", "--json", *args])
    return code, json.loads(capsys.readouterr().out)


def test_default_drill_passes_and_keeps_the_contract(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, card = drill(["--out", str(tmp_path)], capsys)
    (scenario,) = card["scenarios"]  # type: ignore[misc]
    assert set(scenario) >= SCORECARD_KEYS
    assert scenario["name"] == "hidden-admin-role"
    assert scenario["passed"] is True, scenario.get("problems")
    assert code == 0
    assert scenario["contained"] is True
    assert set(scenario["expected"]) <= set(scenario["detected"])
    report = Path(scenario["report"]).read_text()
    assert "ops-maintenance-automation" in report
    assert "Drill-Only-Passw0rd" not in report


def test_two_scenarios_in_one_run_score_each_in_the_table(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The scorecard table: one row a scenario with every column; exit 0 only when all passed."""
    code = main(["drill", "exfiltration", "credential-chain", "--out", str(tmp_path)])
    out = capsys.readouterr().out
    for column in ("contained", "to contain", "detected", "false pos.", "reverted", "residual", "report"):
        assert column in out
    rows = [line for line in out.splitlines() if line.startswith(("exfiltration ", "credential-chain "))]
    assert len(rows) == 2 and all(" PASS " in r for r in rows), out
    assert code == 0
    assert set(all_scenarios()) >= {"exfiltration", "credential-chain"}


def test_dry_run_drill_leaves_the_world_alone(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, card = drill(["--dry-run", "--out", str(tmp_path)], capsys)
    (scenario,) = card["scenarios"]  # type: ignore[misc]
    assert scenario["passed"] is True, scenario.get("problems")
    assert scenario["contained"] is False
    assert code == 0


def test_unknown_scenario_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["drill", "nope", "--out", str(tmp_path)]) == 2
    assert "hidden-admin-role" in capsys.readouterr().err


def test_log_rewrite_drill_finds_the_backdoor_the_rewrite_hid(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, card = drill(["log-rewrite", "--out", str(tmp_path)], capsys)
    (scenario,) = card["scenarios"]  # type: ignore[misc]
    assert scenario["passed"] is True, scenario.get("problems")
    assert code == 0
    assert {"iam_user_created", "iam_access_key_for_other_user"} <= set(scenario["detected"])
    report = Path(scenario["report"]).read_text()
    assert "log-tampered" in report
    assert "irkit analysed the original" in report
    assert "svc-log-shipper" in report
    # Its user and key were contained, then disarmed by the revert: nothing of the attacker's is left.
    assert scenario["residual"] == []
    assert any("log(s) rewritten" in loss for loss in scenario["losses"])


def test_a_scenario_that_cannot_be_staged_is_not_run_not_failed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without terraform the IaC drills cannot be staged: the table says NOT RUN (nothing was tried,
    so no "contained: no"), the reason is printed, no empty report line, and the exit is still 1
    (not every scenario passed); ``--json`` says ``ran: false``."""
    from irkit.drill import runner
    from irkit.drill.iac import DrillUnavailable

    def unavailable(*args: object, **kwargs: object) -> object:
        raise DrillUnavailable("the IaC drill needs terraform (on PATH, or the dev extra)")

    monkeypatch.setattr(runner, "stage", unavailable)
    code = main(["drill", "iac-drift", "--out", str(tmp_path)])
    out = capsys.readouterr().out
    (row,) = [line for line in out.splitlines() if line.startswith("iac-drift ")]
    assert " NOT RUN " in row and " FAIL " not in row and " no " not in row, out
    assert "iac-drift: cannot run: the IaC drill needs terraform" in out
    assert "iac-drift: report" not in out
    assert "1 scenario(s) not run here, so not passed either: iac-drift" in out
    assert code == 1

    code, card = drill(["iac-drift", "--out", str(tmp_path)], capsys)
    (scenario,) = card["scenarios"]  # type: ignore[misc]
    assert scenario["ran"] is False and scenario["passed"] is False and code == 1
    assert set(scenario) >= SCORECARD_KEYS
