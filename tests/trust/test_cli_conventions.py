"""The conventions a CLI user expects: --version, completion, flags without a metavar, irkit cases,
resume by case id, errors as JSON under --json."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from irkit import __version__
from irkit.cli import app, main
from tests.containment.conftest import World, world

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
