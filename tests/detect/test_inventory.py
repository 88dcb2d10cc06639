"""Every change, not only the suspicious ones: the inventory of successful mutating calls and reads."""

from __future__ import annotations

from typing import Any

import pytest

from irkit.detect import inventory
from irkit.detect.analyzer import Analyzer
from irkit.detect.event import Event
from irkit.detect.records import ACCOUNT, AGENT_ROLE, record, role_identity

OTHER_ROLE = f"arn:aws:iam::{ACCOUNT}:role/someone-else"


def _feed(recs: list[dict[str, Any]], **kw: Any) -> Any:
    analyzer = Analyzer(**kw)
    for rec in recs:
        analyzer.feed(Event.from_record(rec))
    return analyzer.finish()


def test_every_successful_change_is_kept_by_service_and_resource_and_reads_are_not() -> None:
    recs = [
        record("CreateRole", "iam.amazonaws.com", request={"roleName": "ops-maint"}, event_id="e1", request_id="r"),
        record(
            "AttachRolePolicy",
            "iam.amazonaws.com",
            request={"roleName": "ops-maint", "policyArn": "arn:aws:iam::aws:policy/ReadOnlyAccess"},
            event_id="e2",
            request_id="r",
        ),
        record(
            "CreateTags",
            "ec2.amazonaws.com",
            request={"resourcesSet": {"items": [{"resourceId": "i-0abc"}]}, "tagSet": {"items": []}},
            event_id="e3",
            request_id="r",
        ),
        record(
            "RunInstances",
            "ec2.amazonaws.com",
            request={"instancesSet": {"items": [{"imageId": "ami-1", "minCount": 2, "maxCount": 2}]}},
            response={"instancesSet": {"items": [{"instanceId": "i-0new1"}, {"instanceId": "i-0new2"}]}},
            event_id="e4",
            request_id="r",
        ),
        record("DescribeInstances", "ec2.amazonaws.com", request={}, read_only=True, event_id="e5", request_id="r"),
        record("DeleteRole", "iam.amazonaws.com", request={"roleName": "x"}, error="AccessDenied", event_id="e6"),
        record("AssumeRole", "sts.amazonaws.com", request={"roleArn": AGENT_ROLE}, event_id="e7", request_id="r"),
        record("Decrypt", "kms.amazonaws.com", request={}, event_id="e8", request_id="r"),
    ]
    analysis = _feed(recs)
    changes = {(c["service"], c["resource"]): c for c in analysis.inventory.changes}
    assert set(changes) == {
        ("iam", "role/ops-maint"),
        ("ec2", "resource/i-0abc"),
        ("ec2", "instance/i-0new1"),
        ("ec2", "instance/i-0new2"),
    }
    role = changes[("iam", "role/ops-maint")]
    assert role["calls"] == {"CreateRole": 1, "AttachRolePolicy": 1}
    assert role["event_ids"] == ["e1", "e2"] and role["count"] == 2
    assert role["principals"] == [AGENT_ROLE]
    # a routine change (tags) is in the inventory, not in the findings
    assert not [f for f in analysis.findings if "e3" in f.event_ids]


def test_every_secret_read_is_listed_for_rotation_and_models_invoked_are_counted() -> None:
    recs = [
        record(
            "GetSecretValue",
            "secretsmanager.amazonaws.com",
            request={"secretId": "arn:aws:secretsmanager:us-east-1:111111111111:secret:prod/db-AbCdEf"},
            read_only=True,
            event_id="s1",
            request_id="r",
        ),
        record(
            "GetSecretValue",
            "secretsmanager.amazonaws.com",
            request={"secretId": "prod/db"},
            read_only=True,
            event_id="s2",
            request_id="r",
        ),
        record(
            "GetParametersByPath",
            "ssm.amazonaws.com",
            request={"path": "/prod/", "withDecryption": True},
            read_only=True,
            event_id="s3",
            request_id="r",
        ),
        record(
            "GetParameter",
            "ssm.amazonaws.com",
            request={"name": "/public/flag", "withDecryption": False},
            read_only=True,
            event_id="s4",
            request_id="r",
        ),
        record(
            "GetSecretValue",
            "secretsmanager.amazonaws.com",
            request={"secretId": "prod/denied"},
            error="AccessDenied",
            event_id="s5",
        ),
        record(
            "InvokeModel",
            "bedrock.amazonaws.com",
            request={"modelId": "anthropic.claude-3-haiku-20240307-v1:0"},
            read_only=True,
            event_id="m1",
            request_id="r",
        ),
    ]
    inv = _feed(recs).inventory
    secrets = {(s["service"], s["secret"]): s for s in inv.secrets_read}
    assert set(secrets) == {("secretsmanager", "prod/db"), ("ssm", "/prod/*")}
    assert secrets[("secretsmanager", "prod/db")]["count"] == 2  # the ARN and the name are one secret
    assert secrets[("ssm", "/prod/*")]["bulk"] is True
    [model] = inv.models_invoked
    assert model["model"] == "anthropic.claude-3-haiku-20240307-v1:0" and model["event_ids"] == ["m1"]


def test_only_the_analysed_principals_changes_are_kept() -> None:
    mine = record("CreateUser", "iam.amazonaws.com", request={"userName": "svc-a"}, event_id="a", request_id="r")
    theirs = record(
        "CreateUser",
        "iam.amazonaws.com",
        request={"userName": "svc-b"},
        identity=role_identity(OTHER_ROLE, session="x", key="ASIAQOTHER0000000001"),
        event_id="b",
        request_id="r",
    )
    inv = _feed([mine, theirs], principals=[AGENT_ROLE]).inventory
    assert [c["resource"] for c in inv.changes] == ["user/svc-a"]


def test_the_inventory_is_bounded_and_says_what_it_folded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(inventory, "MAX_GROUPS", 10)
    recs = [
        record("CreateUser", "iam.amazonaws.com", request={"userName": f"u{n}"}, event_id=f"u{n}", request_id="r")
        for n in range(25)
    ]
    inv = _feed(recs).inventory
    assert len(inv.changes) == 11
    [other] = [c for c in inv.changes if c["resource"] == inventory.OTHER]
    assert other["count"] == 15 and inv.folded == {"changes": 15}


def test_the_inventory_is_in_the_analysis_json() -> None:
    doc = _feed([record("CreateUser", "iam.amazonaws.com", request={"userName": "svc-a"})]).to_json()
    assert set(doc["inventory"]) == {"changes", "secrets_read", "models_invoked", "folded"}
    assert doc["inventory"]["changes"][0]["resource"] == "user/svc-a"


def _busy_security_group(principals: int) -> list[dict[str, Any]]:
    """One security group changed by many roles, the last of them an attacker's, from many addresses."""
    request = {"groupId": "sg-0shared", "ipPermissions": {"items": []}}
    return [
        record(
            "AuthorizeSecurityGroupIngress", "ec2.amazonaws.com", request=request, event_id=f"e{n:03d}",
            identity=role_identity(f"arn:aws:iam::{ACCOUNT}:role/ci-{n:02d}", session=f"s{n}", key=f"ASIAQCI{n:013d}"),
            ip=f"198.51.100.{n}",
        )
        for n in range(principals)
    ]  # fmt: skip


def test_a_busy_resource_says_how_many_calls_its_lists_leave_out() -> None:
    """Past MAX_VALUES distinct principals (addresses, regions, calls) a group lists no more, but it
    counts their calls in ``not_listed``: the 21st principal to change a shared security group is not
    silently absent; a group under every bound has no ``not_listed``."""
    inv = _feed(_busy_security_group(inventory.MAX_VALUES + 5)).inventory
    [group] = [c for c in inv.changes if c["resource"].endswith("sg-0shared")]
    assert group["count"] == inventory.MAX_VALUES + 5
    assert len(group["principals"]) == inventory.MAX_VALUES
    assert group["not_listed"] == {"principals": 5, "networks": 5}
    [calm] = [c for c in _feed(_busy_security_group(3)).inventory.changes if c["resource"].endswith("sg-0shared")]
    assert "not_listed" not in calm


def test_not_listed_counts_add_up_across_a_merge() -> None:
    """Two shares merged (the two-process pass) count what one pass counts."""
    recs = _busy_security_group(inventory.MAX_VALUES + 7)
    one = inventory.Inventory()
    for rec in recs:
        one.feed(Event.from_record(rec))
    first, second = inventory.Inventory(), inventory.Inventory()
    for rec in recs[:12]:
        first.feed(Event.from_record(rec))
    for rec in recs[12:]:
        second.feed(Event.from_record(rec))
    first.merge(second)
    assert first.finish().to_json() == one.finish().to_json()
    assert one.finish().changes[0]["not_listed"] == {"principals": 7, "networks": 7}
