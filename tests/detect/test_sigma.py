"""Sigma rules as a second rule source: what loads, what is refused by name, and how rules match.

Every rule here is written for these tests (no third-party rule file is copied or shipped).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from irkit.detect.analyzer import Analyzer
from irkit.detect.event import Event
from irkit.detect.records import ACCOUNT, ATTACKER_IP, record, user_identity
from irkit.detect.sigma import compile_documents, compile_rule, load_sigma

HEAD = "logsource: {product: aws, service: cloudtrail}\n"


def _rule(rule_id: str, detection: str, *, extra: str = "", level: str = "high") -> str:
    return (
        f"title: test rule {rule_id}\nid: {rule_id}\nstatus: experimental\n"
        f"author: irkit tests\nreferences: [https://example.org/{rule_id}]\nlevel: {level}\n"
        f"{HEAD}{extra}detection:\n{detection}"
    )


def _compiled(detection: str, **kw: Any) -> Any:
    return compile_rule(yaml.safe_load(_rule("r-1", detection, **kw)), "t.yml")


def _matches(detection: str, rec: dict[str, Any]) -> bool:
    return bool(_compiled(detection).match(Event.from_record(rec)))


def _sg(cidr: str, port: int = 22) -> dict[str, Any]:
    perm = {"ipProtocol": "tcp", "fromPort": port, "toPort": port, "ipRanges": {"items": [{"cidrIp": cidr}]}}
    return record(
        "AuthorizeSecurityGroupIngress",
        "ec2.amazonaws.com",
        request={"groupId": "sg-0a1b", "ipPermissions": {"items": [perm]}},
    )


# -- matching ----------------------------------------------------------------------------------------
def test_field_paths_through_lists_and_value_lists() -> None:
    detection = """  sel:
    eventName: AuthorizeSecurityGroupIngress
    requestParameters.ipPermissions.items.ipRanges.items.cidrIp: ['0.0.0.0/0', '::/0']
  condition: sel
"""
    assert _matches(detection, _sg("0.0.0.0/0"))
    assert not _matches(detection, _sg("10.0.0.0/8"))


def test_matching_is_case_insensitive_unless_cased() -> None:
    assert _matches("  sel:\n    eventName: authorizesecuritygroupingress\n  condition: sel\n", _sg("1.2.3.4/32"))
    assert not _matches(
        "  sel:\n    eventName|cased: authorizesecuritygroupingress\n  condition: sel\n", _sg("1.2.3.4/32")
    )


def test_wildcards_and_escapes() -> None:
    rec = record("GetSecretValue", "secretsmanager.amazonaws.com", request={"secretId": "prod/orders*db"})
    assert _matches("  sel:\n    requestParameters.secretId: 'prod/*'\n  condition: sel\n", rec)
    assert _matches("  sel:\n    requestParameters.secretId: 'prod/order?\\*db'\n  condition: sel\n", rec)
    literal = record("GetSecretValue", "secretsmanager.amazonaws.com", request={"secretId": "prod/ordersXdb"})
    assert not _matches("  sel:\n    requestParameters.secretId: 'prod/orders\\*db'\n  condition: sel\n", literal)


@pytest.mark.parametrize(
    ("modifier", "value", "hit"),
    [
        ("contains", "orders", True),
        ("startswith", "prod/", True),
        ("startswith", "orders", False),
        ("endswith", "/db", True),
        ("endswith", "prod", False),
        ("re", "^prod/[a-z]+/db$", True),
        ("re", "^PROD/", False),
        ("re|i", "^PROD/", True),
    ],
)
def test_string_modifiers(modifier: str, value: str, hit: bool) -> None:
    rec = record("GetSecretValue", "secretsmanager.amazonaws.com", request={"secretId": "prod/orders/db"})
    detection = f"  sel:\n    requestParameters.secretId|{modifier}: '{value}'\n  condition: sel\n"
    assert _matches(detection, rec) is hit


def test_contains_all_needs_every_value() -> None:
    rec = record("PutBucketPolicy", "s3.amazonaws.com", request={"policy": '{"Principal":"*","Effect":"Allow"}'})
    assert _matches(
        "  sel:\n    requestParameters.policy|contains|all: ['Principal', 'Allow']\n  condition: sel\n", rec
    )
    assert not _matches(
        "  sel:\n    requestParameters.policy|contains|all: ['Principal', 'Deny']\n  condition: sel\n", rec
    )
    assert _matches("  sel:\n    requestParameters.policy|contains: ['Principal', 'Deny']\n  condition: sel\n", rec)


def test_cidr_modifier() -> None:
    rec = record("ListBuckets", "s3.amazonaws.com", ip=ATTACKER_IP)
    assert _matches("  sel:\n    sourceIPAddress|cidr: 198.51.100.0/24\n  condition: sel\n", rec)
    assert not _matches("  sel:\n    sourceIPAddress|cidr: [10.0.0.0/8, 172.16.0.0/12]\n  condition: sel\n", rec)


def test_null_means_absent_or_null() -> None:
    ok = record("ListBuckets", "s3.amazonaws.com")
    failed = record("ListBuckets", "s3.amazonaws.com", error="AccessDenied")
    detection = "  sel:\n    eventName: ListBuckets\n    errorCode: null\n  condition: sel\n"
    assert _matches(detection, ok)
    assert not _matches(detection, failed)


def test_exists_numbers_and_booleans() -> None:
    rec = _sg("0.0.0.0/0", port=3389)
    assert _matches("  sel:\n    requestParameters.groupId|exists: true\n  condition: sel\n", rec)
    assert not _matches("  sel:\n    errorCode|exists: true\n  condition: sel\n", rec)
    assert _matches("  sel:\n    requestParameters.ipPermissions.items.fromPort: 3389\n  condition: sel\n", rec)
    assert _matches("  sel:\n    requestParameters.ipPermissions.items.toPort|lt: 5000\n  condition: sel\n", rec)
    assert _matches("  sel:\n    readOnly: false\n  condition: sel\n", rec)


def test_conditions_and_or_not_of_and_parentheses() -> None:
    detection = """  create:
    eventName: [CreateUser, CreateAccessKey]
  iam:
    eventSource: iam.amazonaws.com
  sel_root:
    userIdentity.type: Root
  sel_denied:
    errorCode: AccessDenied
  condition: (create and iam) and not 1 of sel_*
"""
    assert _matches(detection, record("CreateUser", "iam.amazonaws.com"))
    assert not _matches(detection, record("CreateUser", "iam.amazonaws.com", error="AccessDenied"))
    assert not _matches(detection, record("DeleteUser", "iam.amazonaws.com"))
    assert _matches(
        "  a:\n    eventName: CreateUser\n  b:\n    eventSource: iam.amazonaws.com\n  condition: all of them\n",
        record("CreateUser", "iam.amazonaws.com"),
    )
    assert not _matches(
        "  a:\n    eventName: CreateUser\n  b:\n    eventSource: s3.amazonaws.com\n  condition: all of them\n",
        record("CreateUser", "iam.amazonaws.com"),
    )
    assert _matches(
        "  a:\n    eventName: CreateUser\n  b:\n    eventSource: s3.amazonaws.com\n  condition: 1 of them\n",
        record("CreateUser", "iam.amazonaws.com"),
    )
    # precedence: not > and > or
    assert _matches(
        "  a:\n    eventName: X\n  b:\n    eventName: CreateUser\n  c:\n    eventSource: s3.amazonaws.com\n"
        "  condition: a and c or b\n",
        record("CreateUser", "iam.amazonaws.com"),
    )


def test_a_list_of_maps_is_an_or_of_ands() -> None:
    detection = """  sel:
    - eventName: CreateUser
      eventSource: s3.amazonaws.com
    - eventName: DeleteTrail
  condition: sel
"""
    assert _matches(detection, record("DeleteTrail", "cloudtrail.amazonaws.com"))
    assert not _matches(detection, record("CreateUser", "iam.amazonaws.com"))


def test_a_rule_pinning_event_names_is_indexed_by_them() -> None:
    pinned = _compiled("  sel:\n    eventName: [CreateUser, UpdateFunctionCode20150331v2]\n  condition: sel\n")
    assert set(pinned.events) == {"createuser", "updatefunctioncode"}
    loose = _compiled("  sel:\n    eventName|startswith: Delete\n  condition: sel\n")
    assert loose.events == ()
    either = _compiled("  a:\n    eventName: CreateUser\n  b:\n    errorCode: AccessDenied\n  condition: a or b\n")
    assert either.events == ()  # one branch does not pin a name: every event must see it
    rules = compile_documents(
        [
            ("p.yml", yaml.safe_load(_rule("p-1", "  sel:\n    eventName: CreateUser\n  condition: sel\n"))),
            ("l.yml", yaml.safe_load(_rule("l-1", "  sel:\n    eventName|startswith: Delete\n  condition: sel\n"))),
        ]
    )
    assert {r.id for r in rules.candidates("CreateUser")} == {"sigma:p-1", "sigma:l-1"}
    assert {r.id for r in rules.candidates("ListBuckets")} == {"sigma:l-1"}


# -- loading a folder --------------------------------------------------------------------------------
UNSUPPORTED = {
    "keywords.yml": ("  keywords:\n    - 'AKIA'\n  condition: keywords\n", "keyword"),
    "count.yml": ("  sel:\n    eventName: ListBuckets\n  condition: sel | count() > 10\n", "aggregation"),
    "base64.yml": ("  sel:\n    requestParameters.userData|base64: curl\n  condition: sel\n", "base64"),
    "near.yml": ("  a:\n    eventName: X\n  b:\n    eventName: Y\n  condition: a near b\n", "near"),
    "timeframe.yml": ("  sel:\n    eventName: X\n  timeframe: 5m\n  condition: sel\n", "timeframe"),
    "fieldref.yml": (
        "  sel:\n    userIdentity.arn|fieldref: requestParameters.roleArn\n  condition: sel\n",
        "fieldref",
    ),
    "undefined.yml": ("  sel:\n    eventName: X\n  condition: sel and other\n", "other"),
    "badregex.yml": ("  sel:\n    eventName|re: '(['\n  condition: sel\n", "regular expression"),
}


def _write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


@pytest.fixture
def rules_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "sigma"
    _write(
        folder,
        "create_user.yml",
        _rule(
            "5e0a1c2d-0001-4000-8000-000000000001",
            "  sel:\n    eventSource: iam.amazonaws.com\n    eventName: CreateUser\n  condition: sel\n",
            extra="tags: [attack.persistence, attack.t1136.003]\ndescription: a user was created\n",
        ),
    )
    _write(
        folder,
        "nested/open_sg.yaml",
        _rule(
            "5e0a1c2d-0002-4000-8000-000000000002",
            "  sel:\n    eventName: AuthorizeSecurityGroupIngress\n"
            "    requestParameters.ipPermissions.items.ipRanges.items.cidrIp|endswith: '/0'\n  condition: sel\n",
            extra="tags: [attack.defense-evasion, attack.t1562.007]\n",
            level="informational",
        ),
    )
    for name, (detection, _) in UNSUPPORTED.items():
        _write(folder, f"bad/{name}", _rule(name.split(".")[0], detection))
    _write(folder, "bad/no_id.yml", f"title: no id\n{HEAD}detection:\n  sel:\n    eventName: X\n  condition: sel\n")
    _write(folder, "bad/invalid.yml", "title: [unclosed\n")
    _write(folder, "bad/global.yml", f"action: global\ntitle: g\nid: g-1\n{HEAD}")
    _write(
        folder,
        "z/duplicate.yml",
        _rule("5e0a1c2d-0001-4000-8000-000000000001", "  sel:\n    eventName: X\n  condition: sel\n"),
    )
    _write(
        folder,
        "other/windows.yml",
        "title: w\nid: w-1\nlogsource: {product: windows, service: security}\n"
        "detection:\n  sel:\n    EventID: 4625\n  condition: sel\n",
    )
    _write(folder, "README.md", "not a rule")
    return folder


def test_a_folder_loads_every_supported_rule_and_names_each_refused_one(rules_dir: Path) -> None:
    loaded = load_sigma([rules_dir])
    assert sorted(r.id for r in loaded.rules) == [
        "sigma:5e0a1c2d-0001-4000-8000-000000000001",
        "sigma:5e0a1c2d-0002-4000-8000-000000000002",
    ]
    refused = {Path(g.path.split("#")[0]).name: g.reason for g in loaded.gaps}
    for name, (_, why) in UNSUPPORTED.items():
        assert why in refused[name], (name, refused.get(name))
    assert "no id" in refused["no_id.yml"]
    assert "not valid YAML" in refused["invalid.yml"]
    assert "rule collections" in refused["global.yml"]
    assert "duplicate id" in refused["duplicate.yml"]
    assert len(loaded.gaps) == len(UNSUPPORTED) + 4
    assert loaded.skipped == 1  # the Windows rule: not CloudTrail, nothing missed
    assert loaded.files == len(UNSUPPORTED) + 7  # the README is not a rule file


def test_a_missing_folder_is_a_gap(tmp_path: Path) -> None:
    loaded = load_sigma([tmp_path / "nowhere"])
    assert loaded.rules == () and "does not exist" in loaded.gaps[0].reason


def test_sigma_findings_carry_the_rule_id_title_level_tags_and_attribution(rules_dir: Path) -> None:
    loaded = load_sigma([rules_dir])
    analyzer = Analyzer(sigma=loaded)
    created = record(
        "CreateUser",
        "iam.amazonaws.com",
        request={"userName": "svc-x"},
        identity=user_identity(f"arn:aws:iam::{ACCOUNT}:user/agent-infra-bot"),
    )
    opened = _sg("203.0.113.7/0", port=8443)
    other = record("ListBuckets", "s3.amazonaws.com")
    for rec in (created, opened, other):
        analyzer.feed(Event.from_record(rec))
    findings = {f.rule_id: f for f in analyzer.finish().findings if f.rule_id.startswith("sigma:")}
    user = findings["sigma:5e0a1c2d-0001-4000-8000-000000000001"]
    assert user.title == "test rule 5e0a1c2d-0001-4000-8000-000000000001"
    assert user.severity == "high" and user.mitre == ("T1136.003",)
    assert user.event_ids == (created["eventID"],)
    sigma = user.evidence["sigma"]
    assert sigma["author"] == "irkit tests" and sigma["references"] == [
        "https://example.org/5e0a1c2d-0001-4000-8000-000000000001"
    ]
    assert sigma["path"].endswith("create_user.yml") and "irkit tests" in user.detail
    sg = findings["sigma:5e0a1c2d-0002-4000-8000-000000000002"]
    assert sg.severity == "low" and sg.mitre == ("T1562.007",)  # informational → low
    assert len(findings) == 2


# -- robustness --------------------------------------------------------------------------------------
ODD = (None, "", 0, -1, [], [None], {}, {"items": "x"}, True, "*", "(?", "\\", [{"a": [1, {"b": None}]}])


def test_sigma_rules_never_raise_on_odd_record_shapes(rules_dir: Path) -> None:
    loaded = load_sigma([rules_dir])
    assert loaded.rules, "the fixture folder loaded no rule: the probes would test only the four hand-made ones"
    probes = [
        _compiled("  sel:\n    requestParameters.a.b|re: '^x'\n  condition: sel\n"),
        _compiled("  sel:\n    requestParameters.a|cidr: 10.0.0.0/8\n  condition: sel\n"),
        _compiled("  sel:\n    requestParameters.a|gt: 3\n  condition: sel\n"),
        _compiled("  sel:\n    requestParameters.a.b|contains|all: [x, y]\n  condition: not sel\n"),
        *loaded.rules,
    ]
    base = record("CreateUser", "iam.amazonaws.com", request={"a": {"b": "x"}})
    for value in ODD:
        for shape in ({"a": value}, {"a": {"b": value}}, value):
            rec = {**base, "requestParameters": shape}
            event = Event.from_record(rec)
            for rule in probes:
                assert isinstance(rule.match(event), bool)


@given(st.text(min_size=1, max_size=30))
def test_a_value_without_wildcards_matches_exactly_itself(text: str) -> None:
    escaped = text.replace("\\", "\\\\").replace("*", "\\*").replace("?", "\\?")
    doc = yaml.safe_load(_rule("h-1", "  sel:\n    requestParameters.v: placeholder\n  condition: sel\n"))
    doc["detection"]["sel"]["requestParameters.v"] = escaped
    rule = compile_rule(doc, "h.yml")
    assert rule.match(Event.from_record(record("X", "s", request={"v": text})))
    assert not rule.match(Event.from_record(record("X", "s", request={"v": text + "x"})))
    assert rule.match(Event.from_record(record("X", "s", request={"v": text.upper()}))) is (
        text.upper().casefold() == text.casefold()
    )
