"""The conventions a CLI user expects: --version, completion, flags without a metavar, irkit cases,
resume by case id, errors as JSON under --json."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from irkit import __version__
from irkit.cli import app, main
from tests.contain.conftest import World, world

__all__ = ["world"]


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"irkit {__version__}"


def test_shell_completion_is_offered() -> None:
    out = CliRunner().invoke(app, ["--help"], env={"COLUMNS": "120"})
    assert "--install-completion" in out.output and "--show-completion" in out.output


@pytest.mark.parametrize("command", [["contain"], ["resume"], ["restore"], ["analyze"], ["drill"], ["cases"]])
def test_flags_show_no_bool_metavar(command: list[str]) -> None:
    out = CliRunner().invoke(app, [*command, "--help"], env={"COLUMNS": "160"})
    assert out.exit_code == 0, out.output
    assert "--json" in out.output or "--dry-run" in out.output
    assert "<bool>" not in out.output


def _contained_case(world: World, out: Path, *extra: str) -> Path:
    code = main(["contain", "infra-optimizer", "-c", str(world.config), "--out", str(out), *extra])
    assert code in (0, 3, 4), code
    (case,) = [p for p in out.iterdir() if p.is_dir()]
    return case


def test_cases_lists_agent_status_start_and_pending(
    world: World, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "cases"
    case = _contained_case(world, out, "--max-actions", "1", "--yes")
    capsys.readouterr()
    assert main(["cases", "--out", str(out), "--json"]) == 0
    (listed,) = json.loads(capsys.readouterr().out)["cases"]
    assert listed["case"] == case.name and listed["agent"] == "infra-optimizer"
    assert listed["status"] == "containment incomplete"
    assert "contain" in listed["pending"] and listed["created"]
    assert listed["resume"] == f"irkit resume {case}"
    assert main(["cases", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert case.name in text and "containment incomplete" in text and "infra-optimizer" in text


def test_cases_of_an_empty_folder_lists_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["cases", "--out", str(tmp_path / "nothing-here")]) == 0
    assert "no case folders" in capsys.readouterr().out


def test_resume_takes_a_case_id_under_out(world: World, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "cases"
    case = _contained_case(world, out, "--dry-run")
    capsys.readouterr()
    assert main(["resume", case.name, "--out", str(out)]) in (0, 3)
    assert f"resuming case {case.name}" in capsys.readouterr().out
    assert main(["resume", "IR-no-such-case", "--out", str(out), "--json"]) == 2
    doc = json.loads(capsys.readouterr().out)
    assert doc["error"]["code"] == "CaseError" and "irkit cases" in doc["error"]["message"]


def test_usage_errors_are_json_under_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["analyze", str(tmp_path / "missing"), "--json"]) == 2
    doc = json.loads(capsys.readouterr().out)
    assert set(doc["error"]) == {"code", "message"} and "no such file" in doc["error"]["message"]
    assert main(["contain", "--json", "--hours", "many"]) == 2
    assert json.loads(capsys.readouterr().out)["error"]["code"] == "UsageError"


AWS_COMMANDS = [["contain"], ["collect"], ["baseline"], ["restore"], ["resume"]]


@pytest.mark.parametrize("command", AWS_COMMANDS)
def test_every_command_that_talks_to_aws_takes_profile_and_region(command: list[str]) -> None:
    out = CliRunner().invoke(app, [*command, "--help"], env={"COLUMNS": "200"})
    assert "--profile" in out.output and "--region" in out.output, out.output
    if command[0] not in {"restore", "resume"}:  # (a case keeps the configuration it ran with)
        assert "-c, --config" in out.output or ("--config" in out.output and "-c" in out.output)


@pytest.mark.parametrize(
    "command",
    [["contain"], ["collect"], ["resume"], ["restore"], ["cases"], ["analyze"], ["baseline"], ["verify"],
     ["drill"], ["rules", "list"], ["runbook", "list"], ["runbook", "show"], ["permissions"], ["init"],
     ["journal", "verify"]],
)  # fmt: skip
def test_each_command_help_shows_an_example_and_its_exit_codes(command: list[str]) -> None:
    out = CliRunner().invoke(app, [*command, "--help"], env={"COLUMNS": "200"})
    assert out.exit_code == 0, out.output
    assert "Example:" in out.output and "Exit codes:" in out.output, out.output


@pytest.mark.parametrize("value", ["0", "-2", "nan", "1e9", "lots"])
@pytest.mark.parametrize("command", [["contain", "a"], ["collect", "a"]])
def test_hours_has_the_same_type_and_bounds_everywhere(
    command: list[str], value: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([*command, "--hours", value]) == 2
    assert "--hours" in capsys.readouterr().err


def test_a_region_that_is_not_one_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "irkit.yaml").write_text(
        'agents:\n  a:\n    account: "111111111111"\n    principals: [arn:aws:iam::111111111111:user/a]\n'
    )
    assert main(["contain", "a", "-c", str(tmp_path / "irkit.yaml"), "--region", "mars-1; rm"]) == 2
    assert "not an AWS region" in capsys.readouterr().err


def test_runbook_list_and_show_speak_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["runbook", "list", "--json"]) == 0
    names = [r["name"] for r in json.loads(capsys.readouterr().out)["runbooks"]]
    assert "agent-compromise" in names
    assert main(["runbook", "show", "agent-compromise", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["steps"][0]["mutates"] is True


def test_config_is_found_in_the_user_config_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from irkit.config import resolve_config_path

    home = tmp_path / "xdg"
    (home / "irkit").mkdir(parents=True)
    (home / "irkit" / "irkit.yaml").write_text("agents: {}\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("IRKIT_CONFIG", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home))
    assert resolve_config_path(None) == home / "irkit" / "irkit.yaml"
    (tmp_path / "irkit.yaml").write_text("agents: {}\n")
    assert resolve_config_path(None) == Path("irkit.yaml")  # the folder's own comes first
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "none"))
    (tmp_path / "irkit.yaml").unlink()
    assert main(["contain", "a"]) == 2
    assert str(tmp_path / "none" / "irkit" / "irkit.yaml") in capsys.readouterr().err
