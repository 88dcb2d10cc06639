"""Restore never re-opens what the stolen credentials made, even on the agent's own user."""

from __future__ import annotations

import json

import pytest

from irkit.cli import main
from tests.trust.conftest import Incident


def test_restore_returns_the_agents_key_and_keeps_the_attackers_inactive(
    hidden_admin_role: Incident, capsys: pytest.CaptureFixture[str]
) -> None:
    incident = hidden_admin_role
    (attacker_key,) = incident.attacker_keys
    result = incident.contain()
    assert set(incident.keys().values()) == {"Inactive"}
    capsys.readouterr()

    code = main(["restore", str(result.case.root), "--yes"])
    out = capsys.readouterr().out
    assert code == 3, out  # the agent's console password is a named gap, as always
    keys = incident.keys()
    assert all(keys[k] == "Active" for k in incident.agent_keys), keys
    assert keys[attacker_key] == "Inactive", out
    # The plan named the held-back key with the event that condemned it.
    create = next(
        c for c in result.case.read_json("findings.json")["chain"] if c["identifier"] == attacker_key
    )
    held = [line for line in out.splitlines() if "held back" in line and attacker_key in line]
    assert held and create["event_id"] in held[0] and "CreateAccessKey" in held[0], out
    assert "iam_access_key_created" in held[0]
    assert f"{attacker_key} (Inactive → Active)" not in out
    assert "still differs" not in out, out


def test_include_chain_reopens_the_attackers_key_with_a_warning(
    hidden_admin_role: Incident, capsys: pytest.CaptureFixture[str]
) -> None:
    incident = hidden_admin_role
    (attacker_key,) = incident.attacker_keys
    result = incident.contain()
    capsys.readouterr()
    code = main(["restore", str(result.case.root), "--yes", "--include-chain", "--json"])
    captured = capsys.readouterr()
    doc = json.loads(captured.out)
    assert code == 3
    assert incident.keys()[attacker_key] == "Active"
    reopened = {r["credential"]: r for r in doc["plan"]["reopened"]}
    assert reopened[attacker_key]["event_name"] == "CreateAccessKey"
    assert not doc["plan"]["held_back"] or all(h["kind"] == "login_profile" for h in doc["plan"]["held_back"])
    assert "WARNING" in captured.err and attacker_key in captured.err


def test_restore_json_lists_each_held_back_item_with_its_event(
    hidden_admin_role: Incident, capsys: pytest.CaptureFixture[str]
) -> None:
    incident = hidden_admin_role
    (attacker_key,) = incident.attacker_keys
    result = incident.contain()
    capsys.readouterr()
    code = main(["restore", str(result.case.root), "--dry-run", "--json"])
    doc = json.loads(capsys.readouterr().out)
    assert code == 3
    held = {h["credential"]: h for h in doc["plan"]["held_back"]}
    assert held[attacker_key]["kind"] == "access_key" and held[attacker_key]["event_id"]
    role = "arn:aws:iam::123456789012:role/ops-maintenance-automation"
    assert held[role]["event_name"] == "CreateRole"
    keys_to_activate = {
        a["params"]["key_id"] for a in doc["plan"]["actions"] if a["kind"] == "set-access-key-status"
    }
    assert keys_to_activate == set(incident.agent_keys)
