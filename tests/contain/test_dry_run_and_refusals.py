"""Dry runs change nothing (and the guard stops a step that tries); refusals are named, not acted on."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from irkit.aws.session import Aws
from irkit.config import Principal
from irkit.contain.chain import ChainResolver
from irkit.contain.runner import bounded_map
from irkit.contain.snapshot import comparable, take_snapshot
from irkit.core.case import Case, CaseMeta
from irkit.core.context import RunContext
from irkit.errors import DryRunViolation
from irkit.steps import contain_chain
from irkit.steps.contain import Contain
from tests.contain.conftest import ACCOUNT, ROLE_ARN, USER_ARN, World, key_status, run, step_output


def world_state(iam: Any) -> dict[str, Any]:
    """Every user and role in the account, as containment would snapshot them."""
    out: dict[str, Any] = {}
    for u in iam.list_users()["Users"]:
        p = Principal(u["Arn"], ACCOUNT, "user", u["UserName"])
        out[p.arn] = comparable(take_snapshot(iam, p))
    for r in iam.list_roles()["Roles"]:
        p = Principal(r["Arn"], ACCOUNT, "role", r["RoleName"])
        out[p.arn] = comparable(take_snapshot(iam, p))
    return out


def test_dry_run_plans_everything_and_changes_nothing(
    world: World, attack: dict[str, Any], fake_detect: list[Sequence[str]], tmp_path: Path
) -> None:
    before = world_state(world.iam)
    lines: list[str] = []
    result = run(
        world,
        tmp_path / "cases",
        "contain",
        "detect",
        "contain_chain",
        "report",
        dry_run=True,
        echo=lines.append,
    )
    assert world_state(world.iam) == before
    printed = "\n".join(lines)
    for kind in ("deactivate-access-key", "deny-user-sessions", "lock-trust-policy", "revoke-role-sessions"):
        assert kind in printed
    assert "arn:aws:iam::123456789012:role/ext-admin" in printed  # the chain is planned too
    statuses = {s.step_id: s.status for s in result.outcome.steps}
    assert statuses["contain"] == "planned" and statuses["contain_chain"] == "planned"
    assert not list(result.case.snapshots_dir.glob("*.json"))


def test_the_guard_stops_containment_that_tries_to_run_in_a_dry_run(world: World, tmp_path: Path) -> None:
    before = world_state(world.iam)
    meta = CaseMeta(
        "IR-dry",
        "infra-optimizer",
        "t",
        1,
        True,
        "now",
        "2026-11-25T00:00:00+00:00",
        "2026-11-25T01:00:00+00:00",
    )
    case = Case.create(tmp_path, meta, config_text="", runbook_text="")
    ctx = RunContext(
        settings=world.settings,
        agent=world.settings.agent("infra-optimizer"),
        case=case,
        aws=Aws(world.settings.aws, dry_run=True),
        journal=case.journal,
        window_start=datetime.fromisoformat(meta.window_start),
        window_end=datetime.fromisoformat(meta.window_end),
        dry_run=True,
        echo=lambda _l: None,
    )
    step = Contain("contain")
    plan = step.plan(ctx)  # reads are allowed
    assert plan.actions
    with pytest.raises(DryRunViolation):
        step.apply(ctx, plan)  # the executor never does this in a dry run; the guard catches it anyway
    assert world_state(world.iam) == before


def test_service_linked_roles_are_refused(world: World, tmp_path: Path) -> None:
    from tests.contain.conftest import write_config

    iam = world.iam
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "ecs.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
    arn = iam.create_role(
        RoleName="AWSServiceRoleForECS",
        Path="/aws-service-role/ecs.amazonaws.com/",
        AssumeRolePolicyDocument=json.dumps(trust),
    )["Role"]["Arn"]
    before = comparable(take_snapshot(iam, Principal(arn, ACCOUNT, "role", "AWSServiceRoleForECS")))
    world.config = write_config(world.config, world.endpoint, [USER_ARN, arn])
    from irkit.config import load_config

    world.settings = load_config(world.config)
    result = run(world, tmp_path / "cases", "contain")
    assert any(g.path == arn and "service-linked" in g.reason for g in result.outcome.gaps)
    refused = next(p for p in step_output(result, "contain")["principals"] if p["principal"] == arn)
    assert refused["status"].startswith("NOT contained: refused: service-linked")
    assert comparable(take_snapshot(iam, Principal(arn, ACCOUNT, "role", "AWSServiceRoleForECS"))) == before
    assert set(key_status(iam, "agent-infra-bot").values()) == {"Inactive"}  # the rest is still contained


def test_max_actions_refuses_the_revoke_step(world: World, tmp_path: Path) -> None:
    result = run(world, tmp_path / "cases", "contain", max_actions=2)
    assert "Active" in key_status(world.iam, "agent-infra-bot").values()
    assert any("max_actions=2" in g.reason for g in result.outcome.gaps)
    out = step_output(result, "contain")
    assert out["contained"] == [] and out["complete"] is False
    assert {p["status"].split(":", 1)[0] for p in out["principals"]} == {"NOT contained"}


def test_a_failed_reanalysis_is_a_gap_and_keeps_what_is_contained(
    world: World,
    attack: dict[str, Any],
    fake_detect: list[Sequence[str]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def missing(paths: Sequence[Path], principals: Sequence[str]) -> list[Any]:
        raise ImportError("irkit.detect.analyzer")

    monkeypatch.setattr(contain_chain, "ANALYZER", missing)
    result = run(world, tmp_path / "cases", "contain", "detect", "contain_chain")
    assert key_status(world.iam, "backdoor") == {attack["bkey"]: "Inactive"}
    assert key_status(world.iam, "backdoor2") == {attack["b2key"]: "Active"}  # only re-analysis finds it
    assert any("not followed further" in g.reason for g in result.outcome.gaps)


# -- the chain resolver, without AWS ------------------------------------------------------------


def _agent() -> Any:
    from irkit.config import AgentSettings

    return AgentSettings("a", ACCOUNT, (Principal.parse(ROLE_ARN), Principal.parse(USER_ARN)))


def _link(kind: str, ident: str, parent: str | None, name: str | None = None) -> dict[str, Any]:
    return {
        "kind": kind,
        "identifier": ident,
        "name": name,
        "parent": parent,
        "event_id": "e",
        "event_name": "x",
        "event_time": "t",
        "external_accounts": [],
    }


def test_resolver_follows_links_in_any_order_and_refuses_strangers() -> None:
    session = f"arn:aws:sts::{ACCOUNT}:assumed-role/agent-infra-optimizer/i-123"
    links = [
        _link("access_key", "AKIACHILD", f"arn:aws:iam::{ACCOUNT}:user/u1"),  # listed before its parent
        _link("user", f"arn:aws:iam::{ACCOUNT}:user/u1", session, "u1"),
        _link("user", f"arn:aws:iam::{ACCOUNT}:user/u2", "AKIAAGENTKEY", "u2"),
        _link("user", f"arn:aws:iam::{ACCOUNT}:user/u3", None, "u3"),
        _link("user", f"arn:aws:iam::{ACCOUNT}:user/u4", f"arn:aws:iam::{ACCOUNT}:user/stranger", "u4"),
    ]
    owners = {"AKIACHILD": "u1"}
    res = ChainResolver(_agent(), agent_keys=["AKIAAGENTKEY"], key_owner=owners.get).resolve(links)
    assert {t.principal.name for t in res.targets} == {"u1", "u2"}
    assert {link.identifier.rsplit("/", 1)[-1] for link, _ in res.refused} == {"u3", "u4"}
    key_target = next(t for t in res.targets if t.key_ids)
    assert key_target.key_ids == frozenset({"AKIACHILD"})


def test_resolver_refuses_sessions_of_foreign_roles_but_follows_what_they_created() -> None:
    foreign = f"arn:aws:sts::{ACCOUNT}:assumed-role/shared-admin/s"
    links = [
        _link("session", foreign, USER_ARN, "shared-admin"),
        _link("user", f"arn:aws:iam::{ACCOUNT}:user/made-by-session", foreign, "made-by-session"),
    ]
    res = ChainResolver(_agent()).resolve(links)
    assert [link.kind for link, _ in res.refused] == ["session"]
    assert [t.principal.name for t in res.targets] == ["made-by-session"]


def test_bounded_map_runs_in_parallel_within_its_bound() -> None:
    active, peak, lock = [0], [0], threading.Lock()

    def work(_: int) -> int:
        with lock:
            active[0] += 1
            peak[0] = max(peak[0], active[0])
        time.sleep(0.02)
        with lock:
            active[0] -= 1
        return _

    assert bounded_map(work, list(range(20)), workers=8) == list(range(20))
    assert 1 < peak[0] <= 8


def test_irkit_never_contains_the_principal_it_runs_as(world: World, tmp_path: Path) -> None:
    from irkit.aws.session import StaticCredentials

    world.iam.delete_access_key(UserName="agent-infra-bot", AccessKeyId=world.key_ids[1])  # two keys at most
    key = world.iam.create_access_key(UserName="agent-infra-bot")["AccessKey"]
    creds = StaticCredentials(key["AccessKeyId"], key["SecretAccessKey"])
    result = run(world, tmp_path / "cases", "contain", credentials=creds)
    assert any(g.path == USER_ARN and "irkit runs as" in g.reason for g in result.outcome.gaps)
    assert key_status(world.iam, "agent-infra-bot")[key["AccessKeyId"]] == "Active"
    assert ROLE_ARN in {r["principal"] for r in step_output(result, "contain")["contained"]}
