"""Fixtures of the report tests: real drill case folders, run once for the session."""

from __future__ import annotations

from pathlib import Path

import pytest

from irkit.drill.runner import run_scenario, select


@pytest.fixture(scope="session")
def drills(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("drills")
    cases: dict[str, Path] = {}
    for scenario in select(["full-compromise", "hidden-admin-role"], run_all=False):
        result = run_scenario(scenario, out=out, echo=lambda _line: None)
        assert result.passed, result.problems
        cases[scenario.name] = Path(result.report).parent
    return cases
