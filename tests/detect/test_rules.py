"""Every rule's own cases, run one by one, and the registry's invariants."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import pytest

from irkit.detect.analyzer import Analyzer
from irkit.detect.detectors import all_detector_infos
from irkit.detect.event import Event
from irkit.detect.names import base_name
from irkit.detect.rule import SEVERITIES, Rule
from irkit.detect.rules import all_rules, get_rule, rule_modules

MITRE = re.compile(r"^T\d{4}(\.\d{3})?$")
REQUIRED = {
    "iam_role_created",
    "iam_user_created",
    "iam_access_key_created",
    "iam_admin_policy_attached",
    "ec2_security_group_open_to_internet",
    "cloudtrail_tampering",
    "ec2_instance_burst",
    "ec2_unusual_region",
    "s3_bucket_public",
}

EVERY_EVENT = {"root_user_activity"}
"""Rules that must see every event (the identity matters, not the call)."""

CASES = [
    pytest.param(rule, record, expected, id=f"{rule.id}-{'pos' if expected else 'neg'}{n}")
    for rule in all_rules()
    for expected, records in ((True, rule.positive), (False, rule.negative))
    for n, record in enumerate(records)
]


def _analyse(records: tuple[Mapping[str, Any], ...] | list[Mapping[str, Any]]) -> set[str]:
    analyzer = Analyzer()
    for record in records:
        analyzer.feed(Event.from_record(record))
    return {f.rule_id for f in analyzer.finish().findings}


@pytest.mark.parametrize(("rule", "record", "expected"), CASES)
def test_rule_case(rule: Rule, record: Mapping[str, Any], expected: bool) -> None:
    event = Event.from_record(record)
    assert rule.match(event) is expected
    # through the analyzer's index as well: a positive must be reachable by its event name
    assert (rule.id in _analyse([record])) is expected
    if expected and rule.id not in EVERY_EVENT:
        assert base_name(event.event_name) in rule.events


def test_failed_call_is_reported_as_an_attempt_one_severity_lower() -> None:
    rule = get_rule("iam_admin_policy_attached")
    record = dict(rule.positive[0])
    record["errorCode"] = "AccessDenied"
    record["responseElements"] = None
    analyzer = Analyzer()
    analyzer.feed(Event.from_record(record))
    [finding] = [f for f in analyzer.finish().findings if f.rule_id == rule.id]
    assert finding.title.startswith("Attempted: ")
    assert finding.severity == "high"


def test_repeated_identical_hits_aggregate_into_one_finding() -> None:
    record = get_rule("secretsmanager_secret_read").positive[0]
    analyzer = Analyzer()
    for n in range(5):
        analyzer.feed(Event.from_record({**record, "eventID": f"e{n}"}))
    [finding] = analyzer.finish().findings
    assert finding.event_ids == ("e0", "e1", "e2", "e3", "e4")


def test_registry_ids_match_modules_and_are_unique() -> None:
    ids = [r.id for r in all_rules()]
    assert sorted(ids) == sorted(rule_modules())
    detector_ids = [d.id for d in all_detector_infos()]
    assert len(set(ids + detector_ids)) == len(ids) + len(detector_ids)
    assert set(ids) | set(detector_ids) >= REQUIRED


@pytest.mark.parametrize("rule", all_rules(), ids=lambda r: r.id)
def test_rule_metadata_is_complete(rule: Rule) -> None:
    assert rule.title and rule.why and rule.remediation and rule.tactic
    assert rule.severity in SEVERITIES
    assert rule.mitre and all(MITRE.match(m) for m in rule.mitre)
    assert rule.positive and rule.negative
    if rule.id not in EVERY_EVENT:
        assert rule.events, "index the rule by the event names it can match"
    module = __import__(f"irkit.detect.rules.{rule.id}", fromlist=["RULE"])
    assert module.__doc__ and "```yaml" in module.__doc__


@pytest.mark.parametrize("info", all_detector_infos(), ids=lambda d: d.id)
def test_detector_metadata_and_scenarios(info: Any) -> None:
    assert info.title and info.why and info.remediation
    assert info.mitre and all(MITRE.match(m) for m in info.mitre)
    assert info.positive and info.negative
    for scenario in info.positive:
        assert info.id in _analyse(scenario)
    for scenario in info.negative:
        assert info.id not in _analyse(scenario)


@pytest.mark.parametrize("rule_id", ["iam_access_key_created", "iam_access_key_for_other_user"])
def test_a_created_key_is_called_failed_only_when_the_call_failed(rule_id: str) -> None:
    """The detail names the new key; a record without its id does not make a success a failure."""
    rule = get_rule(rule_id)
    assert rule.describe is not None
    positive = dict(rule.positive[0])
    key = positive["responseElements"]["accessKey"]["accessKeyId"]
    assert key in rule.describe(Event.from_record(positive))
    trimmed = {**positive, "responseElements": None}
    assert "(failed)" not in rule.describe(Event.from_record(trimmed))
    assert "not in the record" in rule.describe(Event.from_record(trimmed))
    failed = {**trimmed, "errorCode": "AccessDenied"}
    assert "(failed)" in rule.describe(Event.from_record(failed))
