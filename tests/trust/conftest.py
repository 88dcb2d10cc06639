"""Worlds for the responder-trust tests: the drill's hidden-admin-role incident on a moto server."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from irkit.config import load_config
from irkit.drill.runner import DRILL_HOURS, RESPONDER
from irkit.drill.scenarios import all_scenarios
from irkit.drill.server import simulator
from irkit.drill.world import AGENT, AGENT_USER, World
from irkit.engine.run import RunResult, start_run
from irkit.engine.runbook import load_runbook


@dataclass
class Incident:
    world: World
    config: Path
    out: Path
    attacker_keys: list[str]
    agent_keys: list[str]
    """The agent user's keys before the attack (all Active)."""

    def keys(self) -> dict[str, str]:
        iam = self.world.client("iam")
        return {k["AccessKeyId"]: k["Status"] for k in iam.list_access_keys(UserName=AGENT_USER)["AccessKeyMetadata"]}

    def contain(self, **kwargs: Any) -> RunResult:
        return start_run(
            load_config(self.config),
            agent_name=AGENT,
            runbook=load_runbook("agent-compromise"),
            hours=DRILL_HOURS,
            out=self.out,
            assume_yes=True,
            config_file=self.config,
            credentials=RESPONDER,
            echo=lambda _line: None,
            **kwargs,
        )


@pytest.fixture
def hidden_admin_role(tmp_path: Path) -> Iterator[Incident]:
    """The seed incident, delivered to the archive, not yet contained."""
    scenario = all_scenarios()["hidden-admin-role"]
    with simulator() as endpoint:
        world = World(endpoint, now=datetime.now(UTC).replace(microsecond=0))
        world.build()
        iam = world.client("iam")
        before = [k["AccessKeyId"] for k in iam.list_access_keys(UserName=AGENT_USER)["AccessKeyMetadata"]]
        world.background(hours=DRILL_HOURS - 0.5)
        scenario.attack(world)
        world.deliver()
        key = world.write_public_key(tmp_path / "cloudtrail-key.pem")
        baseline = world.write_baseline(tmp_path / "baseline.json")
        config = world.write_config(tmp_path / "irkit.yaml", public_key=key.resolve(), baseline=baseline.resolve())
        made = [c["name"] for c in world.created_by_attacker if c["kind"] == "access_key"]
        yield Incident(world, config, tmp_path / "cases", made, before)
