from __future__ import annotations

from pathlib import Path

from irkit.contain.actions import ROLE_POLICY, USER_POLICY, is_locked
from irkit.contain.snapshot import CASE_TAG
from tests.contain.conftest import ROLE, ROLE_ARN, USER, USER_ARN, World, run, step_output


def test_contains_agent_user_and_role_and_verifies(world: World, tmp_path: Path) -> None:
    result = run(world, tmp_path / "cases", "contain")
    assert int(result.outcome.exit_code) == 0, result.outcome
    iam = world.iam
    keys = iam.list_access_keys(UserName=USER)["AccessKeyMetadata"]
    assert {k["AccessKeyId"] for k in keys} == set(world.key_ids)  # never deleted
    assert all(k["Status"] == "Inactive" for k in keys)
    assert USER_POLICY in iam.list_user_policies(UserName=USER)["PolicyNames"]
    assert ROLE_POLICY in iam.list_role_policies(RoleName=ROLE)["PolicyNames"]
    assert is_locked(iam.get_role(RoleName=ROLE)["Role"]["AssumeRolePolicyDocument"])
    tags = {t["Key"]: t["Value"] for t in iam.list_user_tags(UserName=USER)["Tags"]}
    assert tags[CASE_TAG] == result.case.case_id
    out = step_output(result, "contain")
    rows = out["contained"]
    assert rows and all(r["verified"] for r in rows)
    assert {r["status"] for r in rows} == {"contained", "done"}  # done: the tag, bookkeeping only
    assert {p["principal"]: p["status"] for p in out["principals"]} == {ROLE_ARN: "contained", USER_ARN: "contained"}
    assert out["complete"] is True
    assert {r["principal"] for r in rows} == {ROLE_ARN, USER_ARN}
    assert {r["action"] for r in rows} >= {
        "deactivate-access-key",
        "deny-user-sessions",
        "delete-login-profile",
        "revoke-role-sessions",
        "lock-trust-policy",
        "tag-principal",
    }
    assert out["time_to_contain_seconds"] >= 0
    assert out["facts"][USER_ARN]["mfa_devices"]
    assert out["facts"][ROLE_ARN]["instance_profiles"]
    assert any("stay valid until they expire" in n for n in out["notes"])
    kinds = [e["kind"] for e in result.case.journal.entries()]
    assert "containment.timing" in kinds


def test_snapshot_is_written_before_the_first_change(world: World, tmp_path: Path) -> None:
    result = run(world, tmp_path / "cases", "contain")
    snap = result.case.read_json(f"snapshots/user-{USER}.json")
    assert snap["login_profile"] is not None
    assert sorted(k["status"] for k in snap["access_keys"]) == ["Active", "Inactive"]
    assert snap["inline_policies"].keys() == {"bot-inline"}
    assert snap["mfa_devices"] and snap["attached_policies"]
    role = result.case.read_json(f"snapshots/role-{ROLE}.json")
    assert not is_locked(role["trust_policy"])
    assert role["instance_profiles"]
    entries = result.case.journal.entries()
    first_snap = next(
        i
        for i, e in enumerate(entries)
        if e["kind"] == "snapshot.saved" and e["data"]["principal"] == USER_ARN
    )
    first_act = next(
        i
        for i, e in enumerate(entries)
        if e["kind"] == "action.start" and e["data"]["action"]["target"] == USER_ARN
    )
    assert first_snap < first_act
