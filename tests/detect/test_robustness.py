"""Rules are pure and total: odd shapes in requestParameters never raise, they just don't match."""

from __future__ import annotations

from typing import Any

import pytest

from irkit.detect.analyzer import Analyzer
from irkit.detect.event import Event
from irkit.detect.rule import SEVERITIES, Rule
from irkit.detect.rules import all_rules

ODD_VALUES: tuple[Any, ...] = (None, "", "not json %7B", 0, -1, [], [None], {}, {"items": "x"}, True, "*")


def _mutations(record: dict[str, Any]) -> list[dict[str, Any]]:
    request = record.get("requestParameters") or {}
    out = [{**record, "requestParameters": None}, {**record, "requestParameters": "oops"}]
    for key in request:
        for value in ODD_VALUES:
            out.append({**record, "requestParameters": {**request, key: value}})
    out.append({**record, "responseElements": {"weird": [1, 2]}})
    return out


@pytest.mark.parametrize("rule", all_rules(), ids=lambda r: r.id)
def test_rule_never_raises_on_odd_shapes(rule: Rule) -> None:
    records = [mutated for record in rule.positive for mutated in _mutations(dict(record))]
    assert records, f"{rule.id} has no positive records to vary"
    results = []
    for mutated in records:
        event = Event.from_record(mutated)
        hit = rule.match(event)
        text = rule.describe(event) if hit and rule.describe is not None else ""
        severity = rule.severity_of(event) if hit and rule.severity_of is not None else SEVERITIES[0]
        results.append((hit, text, severity))
    odd = [r for r in results if not isinstance(r[0], bool) or not isinstance(r[1], str) or r[2] not in SEVERITIES]
    assert odd == []


def test_analyzer_survives_records_without_identity_or_request() -> None:
    analyzer = Analyzer(principals=["arn:aws:iam::111111111111:role/agent-infra-optimizer"])
    for name in ("CreateRole", "AssumeRole", "CreateAccessKey", "RunInstances", "ConsoleLogin"):
        analyzer.feed(Event.from_record({"eventName": name, "eventTime": "2026-11-25T10:00:00Z"}))
    analysis = analyzer.finish()
    assert analysis.events == 5 and analysis.errors == []
