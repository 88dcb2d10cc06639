"""Attribution: which events are the agent's, and the credential chain they grew."""

from __future__ import annotations

from typing import Any

from irkit.detect.analyzer import Analyzer
from irkit.detect.event import Event
from irkit.detect.records import (
    ACCOUNT,
    AGENT_ROLE,
    AGENT_USER,
    ATTACKER_IP,
    record,
    role_identity,
    user_identity,
)

OTHER_ROLE = f"arn:aws:iam::{ACCOUNT}:role/payments-app"
ADMIN_ROLE = f"arn:aws:iam::{ACCOUNT}:role/ops-maintenance"


def _run(records: list[dict[str, Any]], principals: list[str] | None = None) -> Any:
    analyzer = Analyzer(principals=principals)
    for rec in records:
        analyzer.feed(Event.from_record(rec))
    return analyzer.finish()


def _assume(
    role: str, key: str, *, identity: dict[str, Any], time: str, session: str = "s"
) -> dict[str, Any]:
    return record(
        "AssumeRole",
        "sts.amazonaws.com",
        identity=identity,
        time=time,
        request={"roleArn": role, "roleSessionName": session},
        response={
            "credentials": {
                "accessKeyId": key,
                "expiration": "Nov 25, 2026 11:00:00 AM",
                "sessionToken": "x",
            },
            "assumedRoleUser": {
                "arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/{role.rsplit('/', 1)[-1]}/{session}"
            },
        },
    )


def test_other_principals_are_not_analysed_when_principals_are_given() -> None:
    other = record(
        "DeleteTrail",
        "cloudtrail.amazonaws.com",
        identity=role_identity(OTHER_ROLE, key="ASIAOTHER"),
        request={"name": "t"},
    )
    mine = record("StopLogging", "cloudtrail.amazonaws.com", request={"name": "t"})
    analysis = _run([other, mine], [AGENT_ROLE])
    assert analysis.events == 2 and analysis.attributed == 1
    [finding] = analysis.findings
    assert finding.event_ids == (mine["eventID"],)
    assert finding.principal == AGENT_ROLE
    assert finding.attribution == f"session of role {AGENT_ROLE}"


def test_without_principals_every_actor_is_analysed() -> None:
    other = record(
        "DeleteTrail",
        "cloudtrail.amazonaws.com",
        identity=role_identity(OTHER_ROLE, key="ASIAOTHER"),
        request={"name": "t"},
    )
    analysis = _run([other])
    assert [f.principal for f in analysis.findings] == [OTHER_ROLE]


def test_follows_sessions_assumed_from_the_agents_session() -> None:
    # the agent's session assumes payments-app; that session's calls are the agent's too
    hop = _assume(OTHER_ROLE, "ASIAHOP0000000000001", identity=role_identity(), time="2026-11-25T10:00:00Z")
    used = record(
        "GetSecretValue",
        "secretsmanager.amazonaws.com",
        identity=role_identity(OTHER_ROLE, session="s", key="ASIAHOP0000000000001"),
        time="2026-11-25T10:05:00Z",
        request={"secretId": "prod/db"},
    )
    unrelated = record(
        "GetSecretValue",
        "secretsmanager.amazonaws.com",
        identity=role_identity(OTHER_ROLE, session="app", key="ASIAAPP0000000000001"),
        request={"secretId": "prod/db2"},
    )
    analysis = _run([hop, used, unrelated], [AGENT_ROLE])
    [finding] = [f for f in analysis.findings if f.rule_id == "secretsmanager_secret_read"]
    assert finding.event_ids == (used["eventID"],)
    assert "ASIAHOP0000000000001" in finding.attribution and "AssumeRole" in finding.attribution
    [link] = analysis.chain
    assert (link.kind, link.identifier, link.name) == ("session", "ASIAHOP0000000000001", OTHER_ROLE)


def test_follows_a_key_the_agent_created_even_when_its_use_is_read_first() -> None:
    created = record(
        "CreateAccessKey",
        "iam.amazonaws.com",
        time="2026-11-25T10:00:00Z",
        request={"userName": "svc-backup"},
        response={
            "accessKey": {"userName": "svc-backup", "accessKeyId": "AKIANEWKEY0000000001", "status": "Active"}
        },
    )
    use = record(
        "RunInstances",
        "ec2.amazonaws.com",
        region="ap-southeast-1",
        time="2026-11-25T10:30:00Z",
        identity=user_identity(f"arn:aws:iam::{ACCOUNT}:user/svc-backup", key="AKIANEWKEY0000000001"),
        ip=ATTACKER_IP,
        request={"instanceType": "p3.16xlarge", "instancesSet": {"items": [{"minCount": 1}]}},
    )
    # an archive sorts ap-southeast-1 before us-east-1: the use arrives before the creation
    analysis = _run([use, created], [AGENT_ROLE, AGENT_USER])
    gpu = [f for f in analysis.findings if f.rule_id == "ec2_large_or_gpu_instance"]
    assert gpu and gpu[0].event_ids == (use["eventID"],)
    assert "AKIANEWKEY0000000001 created by" in gpu[0].attribution
    assert [c.kind for c in analysis.chain] == ["access_key"]
    assert analysis.chain[0].parent.endswith("assumed-role/agent-infra-optimizer/agent-run")


def test_principals_the_agent_created_are_followed_and_chained() -> None:
    trust = (
        '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::999999999999:root"},'
        '"Action":"sts:AssumeRole"}]}'
    )
    create = record(
        "CreateRole",
        "iam.amazonaws.com",
        request={"roleName": "ops-maintenance", "assumeRolePolicyDocument": trust},
        response={"role": {"roleName": "ops-maintenance", "arn": ADMIN_ROLE}},
    )
    outside_assume = _assume(
        ADMIN_ROLE,
        "ASIAOUTSIDE000000001",
        identity={"type": "AWSAccount", "principalId": "AIDAX:x", "accountId": "999999999999"},
        time="2026-11-25T10:10:00Z",
    )
    later = record(
        "StopLogging",
        "cloudtrail.amazonaws.com",
        identity=role_identity(ADMIN_ROLE, session="x", key="ASIAOUTSIDE000000001"),
        time="2026-11-25T10:20:00Z",
        request={"name": "org-trail"},
    )
    login = record("CreateLoginProfile", "iam.amazonaws.com", request={"userName": "jane"})
    analysis = _run([create, outside_assume, later, login], [AGENT_ROLE])
    assert analysis.attributed == 4
    tamper = [f for f in analysis.findings if f.rule_id == "cloudtrail_tampering"]
    assert tamper and "created by" in tamper[0].attribution
    kinds = {(c.kind, c.identifier) for c in analysis.chain}
    assert ("role", ADMIN_ROLE) in kinds
    assert ("login_profile", f"arn:aws:iam::{ACCOUNT}:user/jane") in kinds
    [role] = [c for c in analysis.chain if c.kind == "role"]
    assert role.external_accounts == ("999999999999",)
    assert role.to_json()["external_accounts"] == ["999999999999"]


def test_user_principal_matches_by_user_arn() -> None:
    mine = record(
        "GetPasswordData", "ec2.amazonaws.com", identity=user_identity(), request={"instanceId": "i-1"}
    )
    analysis = _run([mine], [AGENT_USER])
    assert analysis.findings[0].attribution == "userIdentity.arn"


def test_links_made_through_a_followed_credential_name_that_credential_as_parent() -> None:
    hop = _assume(OTHER_ROLE, "ASIAHOP0000000000002", identity=role_identity(), time="2026-11-25T10:00:00Z")
    made = record(
        "CreateUser",
        "iam.amazonaws.com",
        identity=role_identity(OTHER_ROLE, session="s", key="ASIAHOP0000000000002"),
        time="2026-11-25T10:05:00Z",
        request={"userName": "svc-x"},
        response={"user": {"userName": "svc-x", "arn": f"arn:aws:iam::{ACCOUNT}:user/svc-x"}},
    )
    analysis = _run([hop, made], [AGENT_ROLE])
    session, user = analysis.chain
    assert session.parent.endswith("assumed-role/agent-infra-optimizer/agent-run")
    assert (user.kind, user.parent) == ("user", "ASIAHOP0000000000002")
