"""The policy documents the drill writes into its simulator, linted as IAM would (the agent's own
policies and trust, the log reader's, and what each scenario's attacker creates)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from irkit.drill.scenarios import all_scenarios
from irkit.drill.world import World
from tests.strength.test_policies import documents, lint_documents


def test_every_document_the_drill_writes_is_well_formed(
    aws_endpoint: str, calls: list[tuple[str, dict[str, Any]]]
) -> None:
    # One world for every attack: each scenario creates its own resources, and a build is seconds.
    world = World(aws_endpoint, datetime.now(UTC))
    world.build()
    built = len(documents(calls))
    scenarios = all_scenarios()
    for scenario in scenarios.values():
        scenario.attack(world)
    sent = documents(calls)
    operations = {op for op, _, _ in sent}
    assert built >= 4 and {"CreateRole", "PutRolePolicy", "PutUserPolicy", "PutBucketPolicy"} <= operations
    assert len(sent) > built  # the attackers' documents are in too
    assert lint_documents(sent) == []
