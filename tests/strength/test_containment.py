"""Containment actions by behaviour: the order credentials are cut in, what each action changes and
re-reads in IAM (moto server), what a plan proposes, and what a failed call names.

The order is read from the journal (``action.start`` entries), per principal: principals are
contained in parallel, so only the order within one principal is a promise.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from irkit.config import Principal
from irkit.contain import actions
from irkit.contain.actions import (
    LOCK_SID,
    ROLE_POLICY,
    USER_POLICY,
    credential_of,
    deny_older_sessions,
    execute,
    external_principals,
    is_locked,
    locked_trust_policy,
    plan_target,
    trusted_principals,
    verify,
)
from irkit.contain.snapshot import CASE_TAG
from irkit.contain.targets import Refused, Target
from irkit.core.plan import Action
from irkit.errors import AwsCallError
from irkit.steps import registry
from tests.contain.conftest import ACCOUNT, EXT_TRUST, OUTSIDE, ROLE, ROLE_ARN, USER, USER_ARN, World, run
from tests.strength.iam_lint import action_exists

CUT_FIRST = "deactivate-access-key"
IN_USE = ("deny-user-sessions", "revoke-role-sessions")  # credentials already issued
NEXT = ("lock-trust-policy", "delete-login-profile")  # credentials that could be issued next
CUTOFF = datetime(2026, 11, 25, 20, 30, 15, tzinfo=UTC)


def kinds_per_principal(entries: Sequence[dict[str, Any]]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for e in entries:
        if e["kind"] == "action.start":
            action = e["data"]["action"]
            out.setdefault(action["target"], []).append(action["kind"])
    return out


def assert_credentials_in_use_are_cut_first(order: dict[str, list[str]]) -> None:
    assert order  # something was contained: the checks below ran
    for principal, kinds in order.items():
        first_other = next((i for i, k in enumerate(kinds) if k != CUT_FIRST), len(kinds))
        assert CUT_FIRST not in kinds[first_other:], f"{principal}: a key cut after {kinds[: first_other + 1]}"
        in_use = [i for i, k in enumerate(kinds) if k in IN_USE]
        later = [i for i, k in enumerate(kinds) if k in NEXT or k == "tag-principal"]
        assert not in_use or not later or max(in_use) < min(later), f"{principal}: {kinds}"
        assert "tag-principal" not in kinds[:-1], f"{principal}: tagged before a credential was cut: {kinds}"


def test_the_agents_credentials_in_use_are_cut_first(world: World, tmp_path: Path) -> None:
    result = run(world, tmp_path / "cases", "contain")
    order = kinds_per_principal(result.case.journal.entries())
    assert order[USER_ARN][0] == CUT_FIRST and order[USER_ARN][-1] == "tag-principal"
    assert order[ROLE_ARN][0] == "revoke-role-sessions" and order[ROLE_ARN][-1] == "tag-principal"
    assert set(order[USER_ARN]) == {CUT_FIRST, "deny-user-sessions", "delete-login-profile", "tag-principal"}
    assert_credentials_in_use_are_cut_first(order)


def test_the_credential_chain_is_cut_in_the_same_order(
    world: World, attack: dict[str, Any], fake_detect: list[Sequence[str]], tmp_path: Path
) -> None:
    result = run(world, tmp_path / "cases", "contain", "detect", "contain_chain")
    entries = [e for e in result.case.journal.entries() if e["step"] == "contain_chain"]
    order = kinds_per_principal(entries)
    assert f"arn:aws:iam::{ACCOUNT}:user/backdoor" in order and f"arn:aws:iam::{ACCOUNT}:role/ext-admin" in order
    assert order[f"arn:aws:iam::{ACCOUNT}:user/backdoor"][0] == CUT_FIRST
    assert_credentials_in_use_are_cut_first(order)


# -- what each action does, on a moto server ----------------------------------------------------


def _user(name: str) -> Principal:
    return Principal(f"arn:aws:iam::{ACCOUNT}:user/{name}", ACCOUNT, "user", name)


def _role(name: str) -> Principal:
    return Principal(f"arn:aws:iam::{ACCOUNT}:role/{name}", ACCOUNT, "role", name)


def details(plan: Any) -> set[tuple[str, str]]:
    return {(a.kind, a.detail) for a in plan.actions}


def test_a_users_plan_cuts_its_active_keys_sessions_and_password(world: World) -> None:
    plan = plan_target(world.iam, Target(_user(USER)), case_id="IR-1")
    active = world.key_ids[0]
    assert details(plan) == {
        ("deactivate-access-key", f"{active} (Active → Inactive)"),
        ("deny-user-sessions", "inline policy irkit-revoke-older-sessions (aws:TokenIssueTime)"),
        ("delete-login-profile", "console password removed"),
        ("tag-principal", "irkit:case=IR-1"),
    }
    by_kind = {a.kind: a for a in plan.actions}
    assert by_kind["deactivate-access-key"].params == {"user": USER, "key_id": active}
    assert by_kind["deny-user-sessions"].params == {"user": USER}
    assert by_kind["tag-principal"].params == {"kind": "user", "name": USER, "case": "IR-1"}
    assert {a.target for a in plan.actions} == {USER_ARN}
    assert len(plan.facts["mfa_devices"]) == 1 and plan.facts["mfa_devices"][0].endswith("bot-mfa")
    assert "missing_keys" not in plan.facts


def test_a_key_only_target_touches_only_its_keys_and_names_the_missing_ones(world: World) -> None:
    active, inactive = world.key_ids
    target = Target(_user(USER), origin="chain", full=False, key_ids=frozenset({active, inactive, "AKIAGONE"}))
    plan = plan_target(world.iam, target, case_id="IR-2")
    assert [a.kind for a in plan.actions] == ["deactivate-access-key", "tag-principal"]
    assert plan.actions[0].params["key_id"] == active  # the inactive one needs nothing
    assert plan.facts["missing_keys"] == ["AKIAGONE"]
    with_login = plan_target(world.iam, Target(_user(USER), full=False, login_profile=True), case_id="IR-2")
    assert [a.kind for a in with_login.actions] == ["delete-login-profile", "tag-principal"]


def test_a_user_without_password_or_keys_gets_no_action_for_them(world: World) -> None:
    world.iam.create_user(UserName="bare")
    plan = plan_target(world.iam, Target(_user("bare")), case_id="IR-3")
    assert [a.kind for a in plan.actions] == ["deny-user-sessions", "tag-principal"]
    assert plan.facts["mfa_devices"] == []


def test_a_roles_plan_revokes_sessions_and_locks_trust_naming_outside_accounts(world: World) -> None:
    world.iam.create_role(RoleName="ext", AssumeRolePolicyDocument=json.dumps(EXT_TRUST))
    two = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {
        "AWS": [f"arn:aws:iam::{OUTSIDE}:root", "arn:aws:iam::555555555555:role/ci"]}}]}  # fmt: skip
    world.iam.create_role(RoleName="ext2", AssumeRolePolicyDocument=json.dumps(two))
    [lock2] = [
        a for a in plan_target(world.iam, Target(_role("ext2")), case_id="c").actions if a.kind == "lock-trust-policy"
    ]
    assert lock2.detail.endswith(f"; removes trust in arn:aws:iam::555555555555:role/ci, arn:aws:iam::{OUTSIDE}:root")
    plan = plan_target(world.iam, Target(_role("ext")), case_id="IR-4")
    assert details(plan) == {
        ("revoke-role-sessions", "inline policy AWSRevokeOlderSessions"),
        (
            "lock-trust-policy",
            f"trust policy → deny all (saved in the snapshot); removes trust in arn:aws:iam::{OUTSIDE}:root",
        ),
        ("tag-principal", "irkit:case=IR-4"),
    }
    assert plan.facts == {"instance_profiles": [], "trusted_principals": [f"arn:aws:iam::{OUTSIDE}:root"]}
    own = plan_target(world.iam, Target(_role(ROLE)), case_id="IR-4")
    lock = next(a for a in own.actions if a.kind == "lock-trust-policy")
    assert lock.detail == "trust policy → deny all (saved in the snapshot)"  # trusts only its own account
    assert own.facts["instance_profiles"] == [f"arn:aws:iam::{ACCOUNT}:instance-profile/agent-profile"]
    assert own.facts["trusted_principals"] == [f"arn:aws:iam::{ACCOUNT}:root", "ec2.amazonaws.com"]


def test_a_role_is_not_locked_twice_nor_when_asked_not_to(world: World) -> None:
    unlocked = plan_target(world.iam, Target(_role(ROLE)), case_id="IR-5", lock_trust=False)
    assert [a.kind for a in unlocked.actions] == ["revoke-role-sessions", "tag-principal"]
    partial = plan_target(world.iam, Target(_role(ROLE), full=False), case_id="IR-5")
    assert "lock-trust-policy" not in [a.kind for a in partial.actions]
    world.iam.update_assume_role_policy(RoleName=ROLE, PolicyDocument=json.dumps(locked_trust_policy()))
    again = plan_target(world.iam, Target(_role(ROLE)), case_id="IR-5")
    assert [a.kind for a in again.actions] == ["revoke-role-sessions", "tag-principal"]


def test_a_service_linked_role_is_refused(world: World) -> None:
    trust = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "ecs.amazonaws.com"}, "Action": "sts:AssumeRole"}]}  # fmt: skip
    world.iam.create_role(
        RoleName="AWSServiceRoleForECS", Path="/aws-service-role/ecs.amazonaws.com/",
        AssumeRolePolicyDocument=json.dumps(trust),
    )  # fmt: skip
    with pytest.raises(Refused) as caught:
        plan_target(world.iam, Target(_role("AWSServiceRoleForECS")), case_id="IR-6")
    assert caught.value.arn == _role("AWSServiceRoleForECS").arn
    assert caught.value.reason == "service-linked role: AWS owns it, irkit never touches it"


def test_each_action_changes_iam_and_its_verification_reads_the_change_back(world: World) -> None:
    iam = world.iam
    plans = [
        plan_target(iam, Target(_user(USER)), case_id="IR-7"),
        plan_target(iam, Target(_role(ROLE)), case_id="IR-7"),
    ]
    planned = [a for p in plans for a in p.actions]
    assert {a.kind for a in planned} == set(actions.ORDER)  # every kind is exercised below
    assert not [a.kind for a in planned if verify(iam, a)]  # nothing holds before it is done
    for action in planned:
        execute(iam, action, CUTOFF)
    assert [a.kind for a in planned if not verify(iam, a)] == []
    doc = iam.get_user_policy(UserName=USER, PolicyName=USER_POLICY)["PolicyDocument"]
    assert _doc(doc) == deny_older_sessions(CUTOFF)
    assert _doc(iam.get_role_policy(RoleName=ROLE, PolicyName=ROLE_POLICY)["PolicyDocument"]) == deny_older_sessions(
        CUTOFF
    )
    assert _doc(iam.get_role(RoleName=ROLE)["Role"]["AssumeRolePolicyDocument"]) == locked_trust_policy()
    statuses = {k["AccessKeyId"]: k["Status"] for k in iam.list_access_keys(UserName=USER)["AccessKeyMetadata"]}
    assert statuses == dict.fromkeys(world.key_ids, "Inactive")  # both keys still there: evidence
    for tags in (iam.list_user_tags(UserName=USER)["Tags"], iam.list_role_tags(RoleName=ROLE)["Tags"]):
        assert {"Key": CASE_TAG, "Value": "IR-7"} in tags
    with pytest.raises(iam.exceptions.NoSuchEntityException):
        iam.get_login_profile(UserName=USER)


def test_verification_says_no_when_the_change_is_undone(world: World) -> None:
    iam = world.iam
    planned = list(plan_target(iam, Target(_user(USER)), case_id="IR-8").actions)
    planned += plan_target(iam, Target(_role(ROLE)), case_id="IR-8").actions
    for action in planned:
        execute(iam, action, CUTOFF)
    iam.update_access_key(UserName=USER, AccessKeyId=world.key_ids[0], Status="Active")
    iam.delete_user_policy(UserName=USER, PolicyName=USER_POLICY)
    iam.delete_role_policy(RoleName=ROLE, PolicyName=ROLE_POLICY)
    iam.update_assume_role_policy(RoleName=ROLE, PolicyDocument=json.dumps(EXT_TRUST))
    iam.create_login_profile(UserName=USER, Password="Back-Again-Passw0rd!")
    iam.tag_user(UserName=USER, Tags=[{"Key": CASE_TAG, "Value": "another-case"}])
    iam.untag_role(RoleName=ROLE, TagKeys=[CASE_TAG])
    assert [a.kind for a in planned if verify(iam, a)] == []


def _doc(raw: Any) -> Any:
    from irkit.contain.snapshot import policy_doc

    return policy_doc(raw)


# A call that fails names the IAM action it needed: that is what a responder grants.
FAILING = [
    (
        Action("deactivate-access-key", "arn:x", params={"user": "nobody", "key_id": "AKIAIRKITNOSUCHKEY01"}),
        "iam:UpdateAccessKey",
    ),
    (Action("deny-user-sessions", "arn:x", params={"user": "nobody"}), "iam:PutUserPolicy"),
    (Action("delete-login-profile", "arn:x", params={"user": "nobody"}), "iam:DeleteLoginProfile"),
    (Action("revoke-role-sessions", "arn:x", params={"role": "nobody"}), "iam:PutRolePolicy"),
    (Action("lock-trust-policy", "arn:x", params={"role": "nobody"}), "iam:UpdateAssumeRolePolicy"),
    (Action("tag-principal", "arn:x", params={"kind": "user", "name": "nobody", "case": "c"}), "iam:TagUser"),
    (Action("tag-principal", "arn:x", params={"kind": "role", "name": "nobody", "case": "c"}), "iam:TagRole"),
]
VERIFY_READS = [
    ("deactivate-access-key", "iam:ListAccessKeys"),
    ("deny-user-sessions", "iam:ListUserPolicies"),
    ("revoke-role-sessions", "iam:ListRolePolicies"),
    ("lock-trust-policy", "iam:GetRole"),
    ("tag-principal", "iam:ListUserTags"),
]


@pytest.mark.parametrize(("action", "needed"), FAILING, ids=lambda x: x if isinstance(x, str) else x.kind)
def test_a_failed_action_names_the_iam_action_and_the_principal(world: World, action: Action, needed: str) -> None:
    with pytest.raises(AwsCallError) as caught:
        execute(world.iam, action, CUTOFF)
    assert (caught.value.action, caught.value.resource, caught.value.code) == (needed, "arn:x", "NoSuchEntity")
    assert action_exists(needed)


@pytest.mark.parametrize(("kind", "needed"), VERIFY_READS)
def test_a_failed_verification_names_the_read_it_needed(world: World, kind: str, needed: str) -> None:
    params = {
        "user": "nobody",
        "key_id": "AKIAIRKITNOSUCHKEY01",
        "role": "nobody",
        "kind": "user",
        "name": "nobody",
        "case": "c",
    }
    with pytest.raises(AwsCallError) as caught:
        verify(world.iam, Action(kind, "arn:x", params=params))
    assert (caught.value.action, caught.value.resource) == (needed, "arn:x")
    role_tags = Action("tag-principal", "arn:x", params={**params, "kind": "role"})
    with pytest.raises(AwsCallError) as role_caught:
        verify(world.iam, role_tags)
    assert (role_caught.value.action, role_caught.value.resource) == ("iam:ListRoleTags", "arn:x")


def test_a_denied_login_profile_read_while_verifying_names_the_principal(world: World) -> None:
    action = Action("delete-login-profile", USER_ARN, params={"user": USER})
    with pytest.raises(AwsCallError) as caught:
        verify(Refusing(world.iam, "get_login_profile"), action)
    assert (caught.value.action, caught.value.resource, caught.value.code) == (
        "iam:GetLoginProfile",
        USER_ARN,
        "AccessDenied",
    )


def test_a_failed_plan_read_names_the_iam_action(world: World) -> None:
    for principal, needed in ((_user("nobody"), "iam:GetUser"), (_role("nobody"), "iam:GetRole")):
        with pytest.raises(AwsCallError) as caught:
            plan_target(world.iam, Target(principal), case_id="IR-9")
        assert (caught.value.action, caught.value.resource) == (needed, principal.arn)


class Refusing:
    """The moto IAM client, except that one API call is denied (a responder policy missing it)."""

    def __init__(self, iam: Any, method: str) -> None:
        self._iam, self._method = iam, method

    def __getattr__(self, name: str) -> Any:
        if name == self._method:

            def denied(**_: Any) -> Any:
                raise ClientError({"Error": {"Code": "AccessDenied", "Message": "no"}}, name)

            return denied
        return getattr(self._iam, name)


@pytest.mark.parametrize(
    ("principal", "method", "needed"),
    [
        ("user", "list_access_keys", "iam:ListAccessKeys"),
        ("user", "list_mfa_devices", "iam:ListMFADevices"),
        ("user", "get_login_profile", "iam:GetLoginProfile"),
        ("role", "list_instance_profiles_for_role", "iam:ListInstanceProfilesForRole"),
    ],
)
def test_a_denied_read_while_planning_names_the_iam_action(
    world: World, principal: str, method: str, needed: str
) -> None:
    target = Target(_user(USER) if principal == "user" else _role(ROLE))
    with pytest.raises(AwsCallError) as caught:
        plan_target(Refusing(world.iam, method), target, case_id="IR-10")
    assert (caught.value.action, caught.value.resource, caught.value.code) == (needed, target.arn, "AccessDenied")


def test_an_unknown_action_is_refused_not_guessed(world: World) -> None:
    unknown = Action("delete-user", USER_ARN, params={"user": USER})
    with pytest.raises(AwsCallError) as caught:
        execute(world.iam, unknown, CUTOFF)
    assert (caught.value.action, caught.value.resource, caught.value.code) == ("delete-user", USER_ARN, "UnknownAction")
    assert "irkit does not know this action" in str(caught.value)
    assert verify(world.iam, unknown) is False
    assert world.iam.get_user(UserName=USER)["User"]["UserName"] == USER


# -- every call containment makes is declared -----------------------------------------------------


def test_every_call_the_contain_step_makes_is_among_its_declared_permissions(
    world: World, tmp_path: Path, calls: list[tuple[str, dict[str, Any]]]
) -> None:
    run(world, tmp_path / "cases", "contain")
    made = {c for c, _ in calls if c.startswith("iam:")}
    # UpdateAccessKey without UserName acts on the caller's own keys in real IAM: always name the user
    assert {p.get("UserName") for c, p in calls if c == "iam:UpdateAccessKey"} == {USER}
    assert {"iam:UpdateAccessKey", "iam:PutUserPolicy", "iam:UpdateAssumeRolePolicy", "iam:TagRole"} <= made
    declared = set(registry()["contain"].permissions)
    assert made - declared == set()
    mutating = {c for c in made if not c.split(":")[1].startswith(("Get", "List"))}
    assert mutating == set(actions.MUTATING_PERMISSIONS)  # and each declared write is really made


# -- the documents, and the words on the containment table ---------------------------------------


def test_the_session_deny_denies_everything_to_credentials_issued_before_the_cutoff() -> None:
    doc = deny_older_sessions(datetime(2026, 11, 25, 20, 30, 15, 999_000, tzinfo=UTC))
    assert doc == {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Deny",
                "Action": ["*"],
                "Resource": ["*"],
                "Condition": {"DateLessThan": {"aws:TokenIssueTime": "2026-11-25T20:30:15Z"}},
            }
        ],
    }


def test_the_trust_lock_denies_every_way_of_assuming_the_role_to_everyone() -> None:
    doc = locked_trust_policy()
    [statement] = doc["Statement"]
    assert doc["Version"] == "2012-10-17"
    assert statement == {
        "Sid": LOCK_SID,
        "Effect": "Deny",
        "Principal": {"AWS": "*"},
        "Action": ["sts:AssumeRole", "sts:AssumeRoleWithSAML", "sts:AssumeRoleWithWebIdentity"],
    }
    assert LOCK_SID == "IrkitContainmentDenyAll"  # restore and humans recognise irkit's lock by it
    assert is_locked(doc) and is_locked(json.dumps(doc))


@pytest.mark.parametrize(
    ("doc", "locked"),
    [
        ({"Statement": [{"Effect": "Deny"}]}, True),
        ({"Statement": {"Effect": "Deny"}}, True),
        ({"Statement": {"Effect": "Allow"}}, False),
        ({"Statement": [{"Effect": "Deny"}, {"Effect": "Allow"}]}, False),
        ({"Statement": []}, False),  # no statement is no lock: IAM would refuse it anyway
        ({}, False),
        ("not json", False),
        (None, False),
        ([{"Effect": "Deny"}], False),
        ({"Statement": [{"Effect": "Deny"}, "junk"]}, True),
    ],
)
def test_a_trust_policy_is_locked_only_when_every_statement_denies(doc: Any, locked: bool) -> None:
    assert is_locked(doc) is locked


def test_trusted_and_external_principals() -> None:
    trust = {
        "Statement": [
            "junk",  # skipped, and the statements after it still read
            {"Effect": "Deny", "Principal": {"AWS": "arn:aws:iam::777777777777:root"}},
            {"Effect": "Allow", "Principal": {"AWS": [f"arn:aws:iam::{ACCOUNT}:root", OUTSIDE]}},
            {
                "Effect": "Allow",
                "Principal": {"Service": "ec2.amazonaws.com", "AWS": "arn:aws:iam::555555555555:role/x"},
            },
            {"Effect": "Allow", "Principal": {"Federated": f"arn:aws:iam::{ACCOUNT}:saml-provider/okta"}},
        ]
    }
    assert trusted_principals(trust) == [
        OUTSIDE,
        f"arn:aws:iam::{ACCOUNT}:root",
        f"arn:aws:iam::{ACCOUNT}:saml-provider/okta",
        "arn:aws:iam::555555555555:role/x",
        "ec2.amazonaws.com",
    ]
    assert external_principals(trust, ACCOUNT) == [OUTSIDE, "arn:aws:iam::555555555555:role/x"]
    anyone = {"Statement": {"Effect": "Allow", "Principal": "*"}}
    assert trusted_principals(anyone) == ["*"] and external_principals(anyone, ACCOUNT) == ["*"]
    assert external_principals({"Statement": [{"Effect": "Allow", "Principal": {"AWS": ACCOUNT}}]}, ACCOUNT) == []
    assert trusted_principals("not a policy") == [] and trusted_principals({"Statement": [{"Effect": "Allow"}]}) == []


def test_the_containment_table_names_each_credential() -> None:
    def of(kind: str, **params: Any) -> str:
        return credential_of(Action(kind, "arn:x", "its detail", params))

    assert of("deactivate-access-key", key_id="AKIAKEY") == "AKIAKEY"
    assert of("deactivate-access-key") == ""  # a hand-edited plan without its key: nothing invented
    assert of("deny-user-sessions") == "temporary credentials (STS sessions)"
    assert of("revoke-role-sessions") == "role sessions (STS)"
    assert of("lock-trust-policy") == "trust policy (new sessions)"
    assert of("delete-login-profile") == "console password"
    assert of("tag-principal") == "irkit:case"
    assert of("something-newer") == "its detail"


def test_irkits_own_policy_names_are_stable() -> None:
    """restore recognises irkit's inline policies by these names; AWS documents the role one."""
    assert (ROLE_POLICY, USER_POLICY) == ("AWSRevokeOlderSessions", "irkit-revoke-older-sessions")
    assert {ROLE_POLICY, USER_POLICY} == actions.IRKIT_POLICIES
