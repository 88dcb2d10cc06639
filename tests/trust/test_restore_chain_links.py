"""Restore holds back each kind of chain credential on the agent's own principals, naming the event."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from irkit.cli import app
from irkit.contain.actions import ROLE_POLICY
from irkit.contain.snapshot import policy_doc
from irkit.core.case import Case
from tests.contain.conftest import ACCOUNT, OUTSIDE, ROLE, ROLE_ARN, USER, USER_ARN, World, run, world

__all__ = ["world"]  # the fixture, imported for pytest


def _chain(case: Case, links: list[dict[str, object]]) -> None:
    case.write_json("findings.json", {"events": 12, "files": 1, "findings": [], "chain": links})


def _link(kind: str, identifier: str, name: str, event_name: str, event_id: str) -> dict[str, object]:
    return {"kind": kind, "identifier": identifier, "name": name, "parent": USER_ARN, "event_id": event_id,
            "event_name": event_name, "event_time": "2026-11-25T20:00:00Z", "external_accounts": []}  # fmt: skip


def test_session_deny_trust_and_console_login_the_chain_made_are_held_back(world: World, tmp_path: Path) -> None:
    result = run(world, tmp_path / "cases", "contain")
    _chain(
        result.case,
        [
            _link("session", "ASIAEXAMPLESESSION01", ROLE_ARN, "AssumeRole", "evt-assume"),
            _link("role", ROLE_ARN, ROLE, "UpdateAssumeRolePolicy", "evt-trust"),
            _link("login_profile", USER_ARN, USER, "CreateLoginProfile", "evt-login"),
        ],
    )
    out = CliRunner().invoke(app, ["restore", str(result.case.root), "--yes", "--json"])
    doc = json.loads(out.stdout)
    held = {h["kind"]: h for h in doc["plan"]["held_back"]}
    assert held["session_deny"]["event_id"] == "evt-assume"
    assert held["trust_policy"]["event_id"] == "evt-trust"
    assert held["login_profile"]["event_id"] == "evt-login"
    # The session deny stays; the trust stays locked; no gap asks an administrator for a new password.
    assert ROLE_POLICY in world.iam.list_role_policies(RoleName=ROLE)["PolicyNames"]
    trust = policy_doc(world.iam.get_role(RoleName=ROLE)["Role"]["AssumeRolePolicyDocument"])
    assert f"arn:aws:iam::{ACCOUNT}:root" not in json.dumps(trust) and OUTSIDE not in json.dumps(trust)
    assert not any("password" in g["reason"] for g in doc["plan"]["gaps"])
    # What was held back is not "still different from its snapshot": the restore is complete.
    assert doc["remaining"] == {} and doc["exit_code"] == 0, out.output
    # The agent's own key came back.
    status = {k["AccessKeyId"]: k["Status"] for k in world.iam.list_access_keys(UserName=USER)["AccessKeyMetadata"]}
    assert status[world.key_ids[0]] == "Active"


def test_restore_without_detection_warns_about_keys_created_in_the_window(world: World, tmp_path: Path) -> None:
    result = run(world, tmp_path / "cases", "contain")  # no detect step: nothing tells whose keys these are
    out = CliRunner().invoke(app, ["restore", str(result.case.root), "--dry-run", "--json"])
    doc = json.loads(out.stdout)
    assert any(world.key_ids[0] in w and "inside the case window" in w for w in doc["plan"]["warnings"]), doc
    assert "WARNING" in out.stderr
