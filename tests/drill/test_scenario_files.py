"""Scenario files: every shipped one validates; a bad one is a clear error naming the file and place."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from irkit.cli import main
from irkit.drill.residual import CHECKS
from irkit.drill.scenarios import all_scenarios, load_scenario, scenario_files
from irkit.drill.spec import ScenarioError, load_scenario_file, parse_offset, parse_scenario

GOOD = """\
name: tiny-attack
summary: one role made
expected: [iam_role_created]
attack:
  - call: iam.CreateRole
    at: -30m
    params: {RoleName: x, AssumeRolePolicyDocument: "{}"}
    save: {arn: Role.Arn}
    leaves: {kind: role, name: x}
  - call: iam.AttachRolePolicy
    after: 10s
    params: {RoleName: x, PolicyArn: "${arn}"}
"""


def parse(text: str, name: str = "tiny_attack.yaml") -> object:
    return parse_scenario(text, path=Path(name))


def test_the_library_has_at_least_twelve_valid_scenarios_named_after_their_files() -> None:
    files = scenario_files()
    assert len(files) >= 12
    for path in files:
        spec = load_scenario_file(path)
        assert spec.name == path.stem.replace("_", "-")
        assert spec.summary and "\n" not in spec.summary
        kinds = [s["leaves"]["kind"] for s in spec.attack.steps if "leaves" in s]
        kinds += [s["hook"] for s in spec.attack.steps if "hook" in s]  # a hook names what it leaves itself
        # Every attack leaves something checkable behind, except the benign day (and it expects nothing).
        if spec.name == "benign-day":
            assert spec.expected == () and spec.max_severity == "low" and not spec.attack.steps
        else:
            assert spec.expected and kinds, spec.name
    assert {"hidden-admin-role", "full-compromise", "benign-day", "exfiltration"} <= set(all_scenarios())


def test_every_named_residual_kind_has_a_check_or_is_a_loss() -> None:
    named = 0
    for path in scenario_files():
        spec = load_scenario_file(path)
        for step in (*spec.attack.steps, *spec.benign.steps):
            leaves = step.get("leaves")
            if leaves:
                named += 1
                assert leaves.get("loss") or leaves["kind"] in CHECKS, (spec.name, leaves)
    assert named >= 12, "the library names what its attacks leave"


def test_a_good_file_parses_and_keeps_its_steps() -> None:
    spec = parse(GOOD)
    assert spec.name == "tiny-attack"  # type: ignore[attr-defined]
    assert len(spec.attack.steps) == 2  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("name: [\n", "not valid YAML"),
        ("- just a list\n", "a scenario is a mapping"),
        (GOOD.replace("summary:", "sumary:"), "sumary: unknown key"),
        (GOOD.replace("name: tiny-attack", "name: Tiny_Attack"), "name: required, lower-case"),
        (GOOD.replace("name: tiny-attack", "name: other-name"), "differs from its file name"),
        (GOOD.replace("iam.CreateRole", "iam-CreateRole"), "attack[0].call: expected service.Operation"),
        (GOOD.replace("at: -30m", "at: yesterday"), "attack[0].at: 'yesterday' is not a duration"),
        (GOOD.replace("${arn}", "${nope}"), "attack[1]: unknown variable ${nope}"),
        (GOOD.replace("after: 10s", "by: mallory"), "attack[1].by: unknown actor 'mallory'"),
        (GOOD.replace("kind: role", "kind: spaceship"), "attack[0].leaves.kind: unknown kind 'spaceship'"),
        (GOOD.replace("[iam_role_created]", "[no_such_rule]"), "expected: unknown rule id 'no_such_rule'"),
        (GOOD + "  - hook: teleport\n", "attack[2].hook: unknown hook 'teleport'"),
        (GOOD + "  - actor: attacker\n    arn: a\n    key: k\n    secret: s\n", "attack[2].actor: a new actor"),
        (GOOD + "max_severity: scary\n", "max_severity: one of low"),
        (GOOD + "background: {hours: 99}\n", "background.hours"),
    ],
)
def test_a_bad_file_is_a_clear_error_naming_the_place(text: str, message: str) -> None:
    with pytest.raises(ScenarioError) as err:
        parse(text)
    assert message in str(err.value)
    assert str(err.value).startswith("tiny_attack.yaml: ")


def test_a_file_that_is_not_utf8_or_missing_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "tiny_attack.yaml"
    bad.write_bytes(b"name: \xff\n")
    with pytest.raises(ScenarioError, match="not UTF-8"):
        load_scenario(bad)
    with pytest.raises(ScenarioError, match="cannot read"):
        load_scenario(tmp_path / "absent.yaml")


def test_offsets_read_as_signed_durations() -> None:
    assert parse_offset("-95m").total_seconds() == -95 * 60
    assert parse_offset("1h30m").total_seconds() == 5400
    assert parse_offset("+41s").total_seconds() == 41
    with pytest.raises(ValueError):
        parse_offset("95")


def test_list_names_every_scenario_with_its_summary(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["drill", "--list"]) == 0
    out = capsys.readouterr().out
    for scenario in all_scenarios().values():
        assert scenario.name in out and scenario.summary in out
    assert main(["drill", "--list", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)["scenarios"]
    assert len(listed) >= 12
    assert {s["name"] for s in listed} == set(all_scenarios())


def test_keep_world_needs_exactly_one_scenario(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["drill", "--all", "--keep-world", "--out", str(tmp_path)]) == 2
    assert "name exactly one scenario" in capsys.readouterr().err


def test_a_scenario_file_of_ones_own_is_validated_and_a_bad_one_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "my_drill.yaml"
    bad.write_text(GOOD.replace("name: tiny-attack", "name: my-drill").replace("after: 10s", "by: mallory"))
    assert main(["drill", str(bad), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "my_drill.yaml: attack[1].by: unknown actor 'mallory'" in err
    assert "Traceback" not in err
