"""The policy documents the drill writes into its simulator, linted as IAM would (the agent's own
policies and trust, the log reader's, and what each scenario's attacker creates)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from irkit.drill.scenarios import all_scenarios
from irkit.drill.world import World
from tests.strength.test_policies import documents, lint_documents


@pytest.mark.parametrize("name", sorted(all_scenarios()))
def test_every_document_the_drill_writes_is_well_formed(
    name: str, aws_endpoint: str, calls: list[tuple[str, dict[str, Any]]], tmp_path: Path
) -> None:
    # A fresh world per scenario, as `irkit drill` builds it (scenarios share names and key quotas).
    # The workdir holds the IaC repository of the scenarios that change infrastructure through it.
    world = World(aws_endpoint, datetime.now(UTC), workdir=tmp_path)
    world.build()
    built = documents(calls)
    assert len(built) >= 4 and {"CreateRole", "PutRolePolicy", "PutUserPolicy"} <= {op for op, _, _ in built}
    scenario = all_scenarios()[name]
    if scenario.setup is not None:  # as the runner stages it: the setup's values feed the attack
        scenario.setup(world)
    if scenario.benign is not None:
        scenario.benign(world)
    scenario.attack(world)
    sent = documents(calls)
    assert lint_documents(sent) == []


def test_the_attackers_documents_are_linted_too(aws_endpoint: str, calls: list[tuple[str, dict[str, Any]]]) -> None:
    world = World(aws_endpoint, datetime.now(UTC))
    world.build()
    built = len(documents(calls))
    all_scenarios()["hidden-admin-role"].attack(world)
    sent = documents(calls)
    assert len(sent) > built
    assert lint_documents(sent) == []
