"""`irkit drill` end to end: the simulator, the attack, the runbook, the scorecard contract."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from irkit.cli import main
from irkit.drill.scenarios import all_scenarios

SCORECARD_KEYS = {"name", "passed", "contained", "detected", "expected", "residual", "report", "seconds"}


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


def test_every_scenario_passes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, card = drill(["--all", "--out", str(tmp_path)], capsys)
    results = {s["name"]: s for s in card["scenarios"]}  # type: ignore[attr-defined]
    assert set(results) == set(all_scenarios())
    failed = {n: s["problems"] for n, s in results.items() if not s["passed"]}
    assert not failed
    assert code == 0


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
