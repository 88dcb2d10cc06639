"""`irkit restore CASE` brings the agent back to its snapshot exactly (console password excepted)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from irkit.cli import app
from irkit.contain.snapshot import comparable, take_snapshot
from tests.contain.conftest import USER, World, run

runner = CliRunner()


def state(world: World) -> dict[str, dict[str, Any]]:
    iam = world.iam
    return {p.arn: take_snapshot(iam, p) for p in world.settings.agent("infra-optimizer").principals}


def same(a: dict[str, dict[str, Any]], b: dict[str, dict[str, Any]]) -> bool:
    ignore = frozenset({"login_profile"})
    return {k: comparable(v, ignore=ignore) for k, v in a.items()} == {
        k: comparable(v, ignore=ignore) for k, v in b.items()
    }


def test_restore_returns_the_agent_to_its_snapshot_exactly(world: World, tmp_path: Path) -> None:
    before = state(world)
    result = run(world, tmp_path / "cases", "contain")
    contained = state(world)
    assert not same(before, contained)

    out = runner.invoke(app, ["restore", str(result.case.root), "--yes"])
    assert out.exit_code == 3, out.output  # done, with the console password named as a gap
    after = state(world)
    assert same(before, after)
    assert after[f"{world.settings.agent('infra-optimizer').principals[1].arn}"]["login_profile"] is None
    assert "password" in out.output and "administrator" in out.output
    assert "still differs" not in out.output, out.output
    kinds = [e["kind"] for e in result.case.journal.entries()]
    assert {"restore.start", "restore.planned", "restore.action.done", "restore.end"} <= set(kinds)


def test_restore_dry_run_prints_the_plan_and_changes_nothing(world: World, tmp_path: Path) -> None:
    result = run(world, tmp_path / "cases", "contain")
    contained = state(world)
    out = runner.invoke(app, ["restore", str(result.case.root), "--dry-run"])
    assert out.exit_code == 3, out.output
    assert "set-access-key-status" in out.output and "restore-trust-policy" in out.output
    assert state(world) == contained or same(state(world), contained)


def test_restore_without_approval_waits_and_changes_nothing(world: World, tmp_path: Path) -> None:
    result = run(world, tmp_path / "cases", "contain")
    contained = state(world)
    out = runner.invoke(app, ["restore", str(result.case.root)])
    assert out.exit_code == 4, out.output
    assert same(state(world), contained)
    assert any(e["kind"] == "restore.awaiting_approval" for e in result.case.journal.entries())


def test_restore_keeps_a_key_that_was_inactive_before_inactive(world: World, tmp_path: Path) -> None:
    result = run(world, tmp_path / "cases", "contain")
    runner.invoke(app, ["restore", str(result.case.root), "--yes"])
    status = {
        k["AccessKeyId"]: k["Status"] for k in world.iam.list_access_keys(UserName=USER)["AccessKeyMetadata"]
    }
    assert status == {world.key_ids[0]: "Active", world.key_ids[1]: "Inactive"}


def test_restore_json_reports_the_plan_on_stdout(world: World, tmp_path: Path) -> None:
    import json

    result = run(world, tmp_path / "cases", "contain")
    out = runner.invoke(app, ["restore", str(result.case.root), "--dry-run", "--json"])
    doc = json.loads(out.stdout)
    assert doc["dry_run"] is True and doc["exit_code"] == 3
    kinds = {a["kind"] for a in doc["plan"]["actions"]}
    assert {
        "set-access-key-status",
        "delete-inline-policy",
        "restore-trust-policy",
        "untag-principal",
    } <= kinds
    assert any("password" in g["reason"] for g in doc["plan"]["gaps"])
