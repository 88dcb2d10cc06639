"""The seed article's incidents, hidden in routine agent traffic, are each detected and attributed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from irkit.detect.analyzer import Analysis, Analyzer
from irkit.detect.baseline import Baseline
from irkit.detect.event import Event, format_time
from irkit.detect.labelled import generate
from irkit.detect.records import ACCOUNT, AGENT_ROLE, AGENT_USER, ATTACKER_IP, CLI_UA, record, role_identity

T = datetime(2026, 11, 20, 3, 0, tzinfo=UTC)
STOLEN = {"identity": role_identity(session="agent-run", key="ASIAQSTOLENSESSION01"), "ip": ATTACKER_IP}


def _at(minutes: float) -> str:
    return format_time(T + timedelta(minutes=minutes))


def _hidden_admin_role() -> list[dict[str, Any]]:
    arn = f"arn:aws:iam::{ACCOUNT}:role/svc-maintenance"
    trust = (
        '{"Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111111111111:root"},'
        '"Action":"sts:AssumeRole"}]}'
    )
    return [
        record(
            "CreateRole",
            "iam.amazonaws.com",
            time=_at(0),
            request={"roleName": "svc-maintenance", "assumeRolePolicyDocument": trust},
            response={"role": {"arn": arn, "roleName": "svc-maintenance"}},
            **STOLEN,
        ),
        record(
            "AttachRolePolicy",
            "iam.amazonaws.com",
            time=_at(1),
            request={
                "roleName": "svc-maintenance",
                "policyArn": "arn:aws:iam::aws:policy/AdministratorAccess",
            },
            **STOLEN,
        ),
        record(
            "CreateAccessKey",
            "iam.amazonaws.com",
            time=_at(2),
            request={"userName": "deploy-bot"},
            response={"accessKey": {"userName": "deploy-bot", "accessKeyId": "AKIAQHIDDENKEY000001"}},
            **STOLEN,
        ),
    ]


def _miner() -> list[dict[str, Any]]:
    return [
        record(
            "RunInstances",
            "ec2.amazonaws.com",
            time=_at(30 + n),
            user_agent=CLI_UA,
            request={
                "instanceType": "c5.4xlarge",
                "instancesSet": {"items": [{"imageId": "ami-0miner", "minCount": 20, "maxCount": 20}]},
            },
            **STOLEN,
        )
        for n in range(5)
    ]


def _log_role_covering_tracks() -> list[dict[str, Any]]:
    arn = f"arn:aws:iam::{ACCOUNT}:role/log-reader"
    session = {
        "identity": role_identity(arn, session="cleanup", key="ASIAQLOGREADER00001"),
        "ip": ATTACKER_IP,
    }
    return [
        record(
            "CreateRole",
            "iam.amazonaws.com",
            time=_at(60),
            request={"roleName": "log-reader"},
            response={"role": {"arn": arn, "roleName": "log-reader"}},
            **STOLEN,
        ),
        record(
            "AssumeRole",
            "sts.amazonaws.com",
            time=_at(62),
            request={"roleArn": arn, "roleSessionName": "cleanup"},
            response={"credentials": {"accessKeyId": "ASIAQLOGREADER00001"}},
            **STOLEN,
        ),
        record(
            "DeleteLogGroup",
            "logs.amazonaws.com",
            time=_at(65),
            request={"logGroupName": "/security/audit"},
            **session,
        ),
        record(
            "StopLogging", "cloudtrail.amazonaws.com", time=_at(66), request={"name": "org-trail"}, **session
        ),
    ]


def _drift() -> list[dict[str, Any]]:
    perm = {
        "ipProtocol": "tcp",
        "fromPort": 8444,
        "toPort": 8444,
        "ipRanges": {"items": [{"cidrIp": "0.0.0.0/0"}]},
    }
    open_all = {"ipProtocol": "-1", "ipRanges": {"items": [{"cidrIp": "0.0.0.0/0"}]}}
    return [
        record(
            "AuthorizeSecurityGroupIngress",
            "ec2.amazonaws.com",
            time=_at(90),
            request={"groupId": "sg-0web", "ipPermissions": {"items": [perm]}},
            **STOLEN,
        ),
        record(
            "CreateDBInstanceReadReplica",
            "rds.amazonaws.com",
            time=_at(95),
            region="ap-southeast-2",
            request={
                "dBInstanceIdentifier": "orders-copy",
                "sourceDBInstanceIdentifier": f"arn:aws:rds:us-east-1:{ACCOUNT}:db:orders",
            },
            **STOLEN,
        ),
        record(
            "PutBucketPolicy",
            "s3.amazonaws.com",
            time=_at(100),
            request={
                "bucketName": "exports-2026",
                "bucketPolicy": {
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": "*",
                            "Action": "s3:GetObject",
                            "Resource": "arn:aws:s3:::exports-2026/*",
                        }
                    ]
                },
            },
            **STOLEN,
        ),
        # the poisoned optimisation service: "disable security groups and publicly expose databases"
        record(
            "AuthorizeSecurityGroupIngress",
            "ec2.amazonaws.com",
            time=_at(120),
            request={"groupId": "sg-0db", "ipPermissions": {"items": [open_all]}},
        ),
        record(
            "ModifyDBInstance",
            "rds.amazonaws.com",
            time=_at(121),
            request={"dBInstanceIdentifier": "orders", "publiclyAccessible": True},
        ),
    ]


@pytest.fixture(scope="module")
def analysis() -> Analysis:
    background = generate(benign=4_000, seed=5, variants=0).records
    attack = _hidden_admin_role() + _miner() + _log_role_covering_tracks() + _drift()
    events = sorted((Event.from_record(r) for r in background + attack), key=lambda e: e.event_time)
    analyzer = Analyzer(principals=[AGENT_ROLE, AGENT_USER])
    for event in events:
        analyzer.feed(event)
    return analyzer.finish()


def _by_rule(analysis: Analysis, rule_id: str) -> list[Any]:
    return [f for f in analysis.findings if f.rule_id == rule_id]


def test_hidden_admin_role_is_one_sequence_finding_with_every_step(analysis: Analysis) -> None:
    [seq] = _by_rule(analysis, "iam_role_backdoor_sequence")
    assert seq.severity == "critical"
    assert seq.event_ids == tuple(r["eventID"] for r in _hidden_admin_role())
    chain = {(c.kind, c.identifier) for c in analysis.chain}
    assert ("role", f"arn:aws:iam::{ACCOUNT}:role/svc-maintenance") in chain
    assert ("access_key", "AKIAQHIDDENKEY000001") in chain


def test_hundred_instance_miner_is_a_critical_burst(analysis: Analysis) -> None:
    [burst] = _by_rule(analysis, "ec2_instance_burst")
    assert burst.severity == "critical" and burst.evidence["instances"] == 100


def test_log_reader_role_covering_tracks_is_attributed_through_its_session(analysis: Analysis) -> None:
    [log_groups] = _by_rule(analysis, "logs_log_group_tampering")
    [trail] = _by_rule(analysis, "cloudtrail_tampering")
    unattributed = [
        f.rule_id
        for f in (log_groups, trail)
        if "log-reader" not in f.attribution and "ASIAQLOGREADER00001" not in f.attribution
    ]
    assert unattributed == []


def test_configuration_drift_and_supply_chain_changes_are_flagged(analysis: Analysis) -> None:
    found = {f.rule_id for f in analysis.findings}
    assert {
        "ec2_security_group_open_to_internet",
        "rds_cross_region_replica",
        "ec2_unusual_region",
        "s3_bucket_public",
        "rds_instance_made_public",
    } <= found


def test_routine_agent_traffic_raises_nothing_else(analysis: Analysis) -> None:
    attack_ids = {
        r["eventID"] for r in _hidden_admin_role() + _miner() + _log_role_covering_tracks() + _drift()
    }
    stray = [
        f.rule_id for f in analysis.findings if not set(f.event_ids) & attack_ids and f.severity != "low"
    ]
    assert stray == []
    # the agent's routine reads of its own secrets are accesses: recorded (low), never raised
    accesses = {f.rule_id for f in analysis.findings if not set(f.event_ids) & attack_ids}
    assert accesses <= {"secretsmanager_secret_read", "ssm_parameter_decrypted"}


def test_ten_thousand_calls_in_an_hour_is_a_volume_spike_against_the_baseline() -> None:
    history = [Event.from_record(r) for r in generate(benign=4_000, seed=9, variants=0).records]
    base = Baseline.learn(history, agent="infra-optimizer", principals=[AGENT_ROLE, AGENT_USER])
    spike_start = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)
    analyzer = Analyzer(baseline=base)
    for n in range(10_000):
        analyzer.feed(
            Event.from_record(
                record(
                    "DescribeInstances",
                    "ec2.amazonaws.com",
                    read_only=True,
                    request={},
                    event_id=f"v{n}",
                    request_id="r",
                    time=format_time(spike_start + timedelta(seconds=n * 0.36)),
                    ip="10.20.4.11",
                )
            )
        )
    spikes = [f for f in analyzer.finish().findings if f.rule_id == "baseline_volume_spike"]
    assert len(spikes) == 1 and spikes[0].evidence["events"] == 10_000
