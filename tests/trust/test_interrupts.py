"""Ctrl-C and SIGTERM: where the run stopped, the exact resume command, journaled, exit 130."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.contain.conftest import World, world

__all__ = ["world"]

RUNBOOK = """\
name: interrupted
steps:
  - step: contain
    id: contain
  - step: test_signal_self
    id: slow
  - step: report
"""
ROOT = Path(__file__).resolve().parents[2]


def _irkit(args: list[str], signal_name: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, IRKIT_TEST_SIGNAL=signal_name, PYTHONPATH=str(ROOT), NO_COLOR="1")
    return subprocess.run(
        [sys.executable, "-m", "tests.trust.interrupt_child", *args],
        capture_output=True, text=True, env=env, cwd=ROOT, timeout=120, check=False,
    )  # fmt: skip


@pytest.mark.parametrize("signal_name", ["INT", "TERM"])
def test_an_interrupted_run_says_where_it_stopped_and_how_to_resume(
    world: World, tmp_path: Path, signal_name: str
) -> None:
    runbook = tmp_path / "runbook.yaml"
    runbook.write_text(RUNBOOK)
    out = tmp_path / "cases"
    args = ["contain", "infra-optimizer", "-c", str(world.config), "--runbook", str(runbook), "--yes",
            "--out", str(out), "--case", "IR-SIGNAL"]  # fmt: skip
    first = _irkit(args, signal_name)
    assert first.returncode == 130, first
    case = out / "IR-SIGNAL"
    said = first.stdout + first.stderr
    assert "during step slow (test_signal_self)" in said, said
    assert f"irkit resume {case}" in said
    assert ("SIGTERM" if signal_name == "TERM" else "SIGINT") in said
    entries = [json.loads(line) for line in (case / "journal.jsonl").read_text().splitlines()]
    stop = [e for e in entries if e["kind"] == "run.interrupted"]
    assert stop and stop[-1]["data"]["at_step"] == "slow"

    again = _irkit(["resume", str(case)], signal_name)
    assert again.returncode == 0, again
    kinds = [json.loads(line) for line in (case / "journal.jsonl").read_text().splitlines()]
    assert [e["step"] for e in kinds if e["kind"] == "step.done"][-2:] == ["slow", "report"]
    from irkit.core.journal import verify_chain

    assert verify_chain(case / "journal.jsonl") == []


def test_interrupt_outside_a_run_still_says_so(capsys: pytest.CaptureFixture[str]) -> None:
    from irkit import cli

    def interrupted(*_a: object, **_k: object) -> int:
        return 130  # what typer answers for a KeyboardInterrupt

    original = cli.app
    try:
        cli.app = interrupted  # type: ignore[assignment]
        assert cli.main(["analyze", "x", "--json"]) == 130
    finally:
        cli.app = original
    captured = capsys.readouterr()
    assert "interrupted" in captured.err
    assert json.loads(captured.out)["error"]["code"] == "Interrupted"
