"""Bad input at the command line: a clear error and an exit code, never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from irkit.cli import main


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_config_that_is_not_utf8_is_a_config_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "irkit.yaml"
    config.write_bytes(b"\xff\xfeagents: {}\n")
    code, _, err = _run(["contain", "a", "--config", str(config), "--dry-run"], capsys)
    assert code == 2
    assert "not UTF-8" in err and "internal error" not in err


def test_runbook_that_is_not_utf8_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    runbook = tmp_path / "rb.yaml"
    runbook.write_bytes(b"name: x\xff\n")
    code, _, err = _run(["runbook", "validate", str(runbook)], capsys)
    assert code == 2
    assert "not UTF-8" in err and "internal error" not in err
