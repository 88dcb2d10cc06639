"""A containment step that did not contain is not done: resume retries it and re-runs what reads it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from irkit.cli import main
from tests.contain.conftest import USER, World, key_status
from tests.faults import FaultProxy, Rule
from tests.reliability.conftest import fault_proxy, proxied, world

__all__ = ["fault_proxy", "proxied", "world"]

RUNBOOK = """\
name: trust-retry
steps:
  - step: contain
    id: contain
  - step: detect
  - step: contain_chain
  - step: report
"""


def _contain(world: World, tmp_path: Path, *extra: str) -> tuple[int, Path]:
    runbook = tmp_path / "runbook.yaml"
    runbook.write_text(RUNBOOK)
    out = tmp_path / "cases"
    code = main(["contain", "infra-optimizer", "-c", str(world.config), "--runbook", str(runbook), "--yes",
                 "--out", str(out), *extra])  # fmt: skip
    (case,) = out.iterdir()
    return code, case


def _steps(case: Path) -> list[tuple[str, str]]:
    entries = [json.loads(line) for line in (case / "journal.jsonl").read_text().splitlines()]
    return [(e["step"], e["data"].get("status", "")) for e in entries if e["kind"] == "step.done"]


def test_a_contain_that_could_not_reach_iam_is_retried_by_resume_and_ends_contained(
    proxied: World, fault_proxy: FaultProxy, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    unreachable = fault_proxy.add(Rule("error", service="iam", status=503))
    code, case = _contain(proxied, tmp_path)
    first = capsys.readouterr().out
    assert code == 3, first
    assert set(key_status(proxied.iam, USER).values()) == {"Active", "Inactive"}  # nothing could be done
    assert "✓ contain:" not in first and "✗ contain:" in first, first
    assert "CONTAINMENT INCOMPLETE" in first
    assert ("contain", "incomplete") in _steps(case)
    assert "CONTAINMENT INCOMPLETE" in (case / "report.md").read_text()

    fault_proxy.clear()  # IAM is reachable again
    assert unreachable.hits > 0
    code = main(["resume", str(case)])
    again = capsys.readouterr().out
    assert code == 3, again  # the one gap left: this runbook collects no evidence for detect
    assert set(key_status(proxied.iam, USER).values()) == {"Inactive"}
    assert "✓ contain:" in again
    done = _steps(case)
    # detect read nothing that changed; contain_chain (reads containment) and the report ran again.
    assert done[-3:] == [("contain", "done"), ("contain_chain", "done"), ("report", "done")], done
    report = (case / "report.md").read_text()
    assert "CONTAINMENT INCOMPLETE" not in report, report
    assert "CONTAINMENT INCOMPLETE" not in again
    doc = json.loads((case / "report.json").read_text())
    assert doc["counts"]["containment_gaps"] == 0


def test_a_refusal_over_max_actions_is_resumed_with_max_actions(
    proxied: World, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, case = _contain(proxied, tmp_path, "--max-actions", "1")
    first = capsys.readouterr().out
    assert code == 3
    assert "✗ contain: refused" in first and "--max-actions" in first
    assert "✓ contain:" not in first
    assert set(key_status(proxied.iam, USER).values()) == {"Active", "Inactive"}
    code = main(["resume", str(case), "--max-actions", "50", "--json"])
    doc = json.loads(capsys.readouterr().out)
    assert code == 3, doc  # the evidence gap of this collect-less runbook, nothing else
    assert doc["containment_complete"] is True and doc["containment_gaps"] == 0
    assert [g["reason"] for g in doc["gaps"] if "max_actions" in g["reason"]] == []
    assert set(key_status(proxied.iam, USER).values()) == {"Inactive"}


def test_resume_of_a_completed_case_runs_nothing_again(
    proxied: World, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, case = _contain(proxied, tmp_path)
    assert code == 3, capsys.readouterr().out
    before = _steps(case)
    assert main(["resume", str(case)]) == 3
    assert _steps(case) == before
