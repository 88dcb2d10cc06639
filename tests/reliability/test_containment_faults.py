"""Containment through the fault proxy: denied, throttled and unreadable IAM calls.

"Contained" must be what a clean client reads back from IAM afterwards, whatever the proxy did
to irkit's own calls; and throttling must not hold the first access key back behind other work.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from irkit.contain.actions import ROLE_POLICY, USER_POLICY, external_principals, is_locked
from irkit.contain.snapshot import policy_doc
from irkit.engine.run import RunResult
from tests.contain.conftest import ACCOUNT, OUTSIDE, ROLE, ROLE_ARN, USER, USER_ARN, World, key_status, run
from tests.contain.conftest import step_output as output_of
from tests.faults import FaultProxy, Rule

EXT_ARN = f"arn:aws:iam::{ACCOUNT}:role/ext-admin"


def step_done(result: RunResult, step_id: str) -> dict[str, Any]:
    for entry in result.case.journal.entries():
        if entry["kind"] == "step.done" and entry["step"] == step_id:
            return dict(entry["data"])
    raise AssertionError(f"no step.done for {step_id}")


def login_exists(iam: Any, user: str) -> bool:
    try:
        iam.get_login_profile(UserName=user)
    except iam.exceptions.NoSuchEntityException:
        return False
    return True


def name_of(arn: str) -> str:
    return arn.rsplit("/", 1)[-1]


def key_owner(iam: Any, key_id: str) -> str:
    return str(iam.get_access_key_last_used(AccessKeyId=key_id)["UserName"])


def user_contained(iam: Any, user: str) -> bool:
    return (
        set(key_status(iam, user).values()) <= {"Inactive"}
        and USER_POLICY in iam.list_user_policies(UserName=user)["PolicyNames"]
        and not login_exists(iam, user)
    )


def role_sessions_revoked(iam: Any, role: str) -> bool:
    return ROLE_POLICY in iam.list_role_policies(RoleName=role)["PolicyNames"]


def role_locked(iam: Any, role: str) -> bool:
    return is_locked(iam.get_role(RoleName=role)["Role"]["AssumeRolePolicyDocument"])


def row_holds(iam: Any, row: dict[str, Any]) -> bool:
    """Re-read, through the clean client, the effect a containment row claims."""
    name, action = name_of(row["principal"]), row["action"]
    if action == "deactivate-access-key":
        return key_status(iam, name).get(row["credential"]) == "Inactive"
    if action == "deny-user-sessions":
        return USER_POLICY in iam.list_user_policies(UserName=name)["PolicyNames"]
    if action == "delete-login-profile":
        return not login_exists(iam, name)
    if action == "revoke-role-sessions":
        return role_sessions_revoked(iam, name)
    if action == "lock-trust-policy":
        return role_locked(iam, name)
    if action == "tag-principal":
        user = ":user/" in row["principal"]
        tags = iam.list_user_tags(UserName=name) if user else iam.list_role_tags(RoleName=name)
        return any(t["Key"] == "irkit:case" for t in tags["Tags"])
    raise AssertionError(f"unknown action in a row: {action}")


def link_holds(iam: Any, link: dict[str, Any]) -> bool:
    """Re-read, through the clean client, that a chain link is contained."""
    kind, ident = link["kind"], link["identifier"]
    if kind == "user":
        return user_contained(iam, name_of(ident))
    if kind == "access_key":
        return key_status(iam, link.get("name") or key_owner(iam, ident)).get(ident) == "Inactive"
    if kind == "login_profile":
        return not login_exists(iam, name_of(ident))
    if kind == "role":
        return role_sessions_revoked(iam, name_of(ident)) and role_locked(iam, name_of(ident))
    if kind == "session":
        return role_sessions_revoked(iam, ident.split(":assumed-role/", 1)[1].split("/", 1)[0])
    raise AssertionError(f"unknown link kind: {kind}")


def claims_are_true(iam: Any, result: RunResult, steps: Sequence[str]) -> int:
    """Every ``contained`` a containment step says is true on a clean re-read; returns how many."""
    checked = 0
    for step in steps:
        out = output_of(result, step)
        for row in out["contained"]:
            assert row["verified"] == (row["status"] in ("contained", "done")), row
            if row["verified"]:
                assert row_holds(iam, row), row
                checked += 1
        for principal in out["principals"]:
            assert principal["verified"] == (principal["status"] == "contained"), principal
            if principal["verified"] and principal["kind"] == "user" and principal["origin"] == "inventory":
                assert user_contained(iam, name_of(principal["principal"])), principal
                checked += 1
        for link in out.get("chain", []):
            if link["status"] in ("contained", "contained by the contain step"):
                assert link["verified"] and link_holds(iam, link), link
                checked += 1
            else:
                assert not link["verified"], link
        summary = step_done(result, step)["summary"]
        if "chain links contained" in summary:
            claimed = int(summary.split(" chain links contained", 1)[0])
            assert claimed == sum(1 for c in out["chain"] if c["status"] == "contained"), summary
    return checked


# -- AccessDenied on what the attacker created --------------------------------------------------------


def test_a_chain_role_irkit_is_denied_is_not_contained_anywhere(
    proxied: World, fault_proxy: FaultProxy, attack: dict[str, Any], fake_detect: list[Sequence[str]], tmp_path: Path
) -> None:
    fault_proxy.add(Rule("deny", service="iam", params={"RoleName": "ext-admin"}))
    result = run(proxied, tmp_path / "cases", "contain", "detect", "contain_chain", "report")
    iam = proxied.iam
    # the world: the role still trusts the outside account
    trust = policy_doc(iam.get_role(RoleName="ext-admin")["Role"]["AssumeRolePolicyDocument"])
    assert OUTSIDE in " ".join(external_principals(trust, ACCOUNT))
    assert fault_proxy.injected["deny iam:GetRole"] >= 1

    out = output_of(result, "contain_chain")
    role_link = next(c for c in out["chain"] if c["kind"] == "role" and c["identifier"] == EXT_ARN)
    assert role_link["status"].startswith("NOT contained: ") and "AccessDenied" in role_link["status"]
    assert role_link["verified"] is False
    session_link = next(c for c in out["chain"] if c["kind"] == "session")
    assert session_link["status"].startswith("NOT contained")  # its sessions are the role's
    role_principal = next(p for p in out["principals"] if p["principal"] == EXT_ARN)
    assert role_principal["status"].startswith("NOT contained") and not role_principal["verified"]
    assert any(r["principal"] == EXT_ARN and not r["verified"] for r in out["contained"])
    assert out["complete"] is False
    summary = step_done(result, "contain_chain")["summary"]
    assert "NOT contained" in summary and EXT_ARN in summary
    assert any(g.path == EXT_ARN or EXT_ARN in g.path for g in result.outcome.gaps)
    # what could be contained still was, and says so truthfully
    assert key_status(iam, "backdoor") == {attack["bkey"]: "Inactive"}
    assert claims_are_true(iam, result, ["contain", "contain_chain"]) > 0

    report = (result.case.root / "report.md").read_text(encoding="utf-8")
    rows = [line for line in report.splitlines() if line.startswith("| role") and EXT_ARN in line]
    assert rows and all("NOT contained" in line for line in rows), rows
    assert "CONTAINMENT INCOMPLETE" in report


def test_an_agent_role_irkit_is_denied_makes_the_revoke_step_say_not_contained(
    proxied: World, fault_proxy: FaultProxy, tmp_path: Path
) -> None:
    fault_proxy.add(Rule("deny", service="iam", params={"RoleName": ROLE}))
    result = run(proxied, tmp_path / "cases", "contain", "report")
    done = step_done(result, "contain")
    assert f"NOT contained: 1 of 2 principals ({ROLE_ARN})" in done["summary"]
    out = done["output"]
    role_rows = [r for r in out["contained"] if r["principal"] == ROLE_ARN]
    assert role_rows and all(r["status"].startswith("NOT contained") and not r["verified"] for r in role_rows)
    assert out["complete"] is False
    assert {p["principal"]: p["verified"] for p in out["principals"]} == {USER_ARN: True, ROLE_ARN: False}
    assert set(key_status(proxied.iam, USER).values()) == {"Inactive"}  # the rest still contained
    report = (result.case.root / "report.md").read_text(encoding="utf-8")
    # the containment table names principals by their short name (role/NAME)
    assert any(f"role/{ROLE}" in line and re.search(r"\| NO\b", line) for line in report.splitlines())


def test_a_change_that_cannot_be_read_back_is_not_contained(
    proxied: World, fault_proxy: FaultProxy, tmp_path: Path
) -> None:
    # irkit may write its session deny but not read it back: it must not call that verified
    reads_back = frozenset({"GetUserPolicy"})
    fault_proxy.add(Rule("deny", service="iam", actions=reads_back, params={"PolicyName": USER_POLICY}))
    result = run(proxied, tmp_path / "cases", "contain")
    out = output_of(result, "contain")
    row = next(r for r in out["contained"] if r["action"] == "deny-user-sessions")
    assert USER_POLICY in proxied.iam.list_user_policies(UserName=USER)["PolicyNames"]  # it was written
    assert row["applied"] is True and row["verified"] is False
    assert row["status"].startswith("NOT contained: could not re-read") and "AccessDenied" in row["status"]
    user = next(p for p in out["principals"] if p["principal"] == USER_ARN)
    assert not user["verified"] and "AccessDenied" in user["status"]
    assert any("deny-user-sessions" in g.path and "not verified" in g.reason for g in result.outcome.gaps)


# -- throttling ---------------------------------------------------------------------------------------


def test_half_of_iam_throttled_contain_completes_keys_first_and_every_claim_is_true(
    proxied: World, fault_proxy: FaultProxy, attack: dict[str, Any], fake_detect: list[Sequence[str]], tmp_path: Path
) -> None:
    fault_proxy.add(Rule("throttle", probability=0.5, service="iam"))
    result = run(
        proxied, tmp_path / "cases", {"step": "contain", "id": "contain", "with": {"workers": 1}},
        "detect", "contain_chain", "report",
    )  # fmt: skip
    assert not result.outcome.failed and int(result.outcome.exit_code) in (0, 3)
    assert fault_proxy.injected.total() > 20  # it really was throttled
    iam = proxied.iam
    assert set(key_status(iam, USER).values()) == {"Inactive"}
    assert key_status(iam, "backdoor") == {attack["bkey"]: "Inactive"}

    # keys first: the agent's first key is cut before any other principal is even snapshotted
    entries = [e for e in result.case.journal.entries() if e.get("step") == "contain"]
    kinds = [(e["kind"], e["data"].get("principal") or e["data"].get("action", {}).get("target")) for e in entries]
    first_cut = next(i for i, e in enumerate(entries) if e["kind"] == "action.done")
    assert entries[first_cut]["data"]["action"]["kind"] == "deactivate-access-key", kinds
    assert entries[first_cut]["data"]["action"]["target"] == USER_ARN
    assert ("snapshot.saved", USER_ARN) in kinds[:first_cut]
    assert ("snapshot.saved", ROLE_ARN) in kinds[first_cut:], kinds

    assert claims_are_true(iam, result, ["contain", "contain_chain"]) >= 10


def test_a_throttling_burst_longer_than_botocore_retries_does_not_leave_a_key_active(
    proxied: World, fault_proxy: FaultProxy, tmp_path: Path
) -> None:
    # more throttles in a row than botocore's standard retries (7 attempts) would ever ride out
    fault_proxy.add(Rule("throttle", service="iam", actions=frozenset({"UpdateAccessKey"}), limit=9))
    result = run(proxied, tmp_path / "cases", "contain")
    assert fault_proxy.injected["throttle iam:UpdateAccessKey"] == 9
    assert set(key_status(proxied.iam, USER).values()) == {"Inactive"}
    rows = [r for r in output_of(result, "contain")["contained"] if r["action"] == "deactivate-access-key"]
    assert rows and all(r["verified"] and r["status"] == "contained" for r in rows)
    assert not [g for g in result.outcome.gaps if USER_ARN in g.path]
