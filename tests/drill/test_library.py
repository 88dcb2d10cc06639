"""Each scenario runs end to end on its own simulator and scores: contained, detected, reverted, nothing left.

The whole library costs minutes of CPU (about 12 s a scenario on an idle core): by default a
representative subset runs here (the new attack families and the benign day); ``IRKIT_DRILL_ALL=1``
runs every scenario. The remaining ones also run in tests/test_drill.py, tests/revert and tests/trust
(hidden-admin-role, log-rewrite, exfiltration and credential-chain through the CLI; full-compromise
and iac-drift in the revert stage's tests), and every file is validated in
test_scenario_files.py.
"""

from __future__ import annotations

import os
from pathlib import Path

import orjson
import pytest

from irkit.drill.runner import ScenarioResult, run_scenario
from irkit.drill.scenarios import all_scenarios

REPRESENTATIVE = {
    "benign-day",
    "lateral-movement",
    "ai-service-abuse",
    "poisoned-recommendations",
    "lambda-backdoor",
}
ALL = bool(os.environ.get("IRKIT_DRILL_ALL"))


def params() -> list[object]:
    return [
        pytest.param(
            name,
            marks=[pytest.mark.slow]
            + ([] if name in REPRESENTATIVE or ALL else [pytest.mark.skip(reason="full library: IRKIT_DRILL_ALL=1")]),
        )
        for name in all_scenarios()
    ]


def run(name: str, out: Path) -> ScenarioResult:
    return run_scenario(all_scenarios()[name], out=out, echo=lambda _line: None)


@pytest.mark.parametrize("name", params())
def test_the_scenario_passes_end_to_end(name: str, tmp_path: Path) -> None:
    result = run(name, tmp_path)
    assert result.passed, result.problems
    assert result.problems == []
    assert result.residual == []  # read from the world again, not from irkit's output
    assert result.contained is True
    assert set(result.expected) <= set(result.detected)
    assert Path(result.report).is_file()
    assert result.time_to_contain is not None and result.time_to_contain >= 0
    if result.expected and not result.losses:
        # The revert stage ran and verified (by re-reading) what it undid.
        assert result.reverted["changes"] >= 1
        assert result.reverted["undone"] == result.reverted["changes"]
    elif result.expected:
        assert result.losses  # what no call undoes is named (and stays out of the residual)
    else:
        # The benign day: nothing flagged above low, on the agent's own normal activity.
        findings = orjson.loads((Path(result.report).parent / "findings.json").read_bytes())["findings"]
        assert all(f["severity"] == "low" for f in findings), [(f["rule_id"], f["severity"]) for f in findings]


def test_a_scenario_whose_attack_is_not_undone_fails_with_its_residual(tmp_path: Path) -> None:
    """The scorer can fail: an attacker's change no call undoes is residual, and the scenario fails."""
    from dataclasses import replace

    from irkit.drill.world import World

    base = all_scenarios()["hidden-admin-role"]

    def attack(world: World) -> None:
        base.attack(world)
        # Made by the administrator's hand, outside the logs: nothing in the trail says to undo it.
        world.client("iam").create_role(RoleName="unlogged-admin", AssumeRolePolicyDocument='{"Statement": []}')
        world.client("iam").attach_role_policy(
            RoleName="unlogged-admin", PolicyArn="arn:aws:iam::aws:policy/AdministratorAccess"
        )
        world.created_by_attacker.append({"kind": "role", "name": "unlogged-admin"})

    result = run_scenario(replace(base, attack=attack), out=tmp_path, echo=lambda _line: None)
    assert result.passed is False
    assert any("unlogged-admin" in item for item in result.residual)
    assert any("still live" in p for p in result.problems)
