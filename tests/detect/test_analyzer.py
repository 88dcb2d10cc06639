"""The analyzer's single pass: indexed rules, bounded parking, ordering of findings."""

from __future__ import annotations

from typing import Any

import irkit.detect.analyzer as analyzer_module
from irkit.detect.analyzer import Analyzer
from irkit.detect.event import Event
from irkit.detect.records import AGENT_ROLE, record, role_identity
from irkit.detect.rule import Rule


def _counting_rule(calls: list[str], events: tuple[str, ...]) -> Rule:
    def match(event: Event) -> bool:
        calls.append(event.event_name)
        return True

    rec = record("StopLogging", "cloudtrail.amazonaws.com")
    return Rule(
        id="counting",
        title="t",
        severity="low",
        mitre=("T1562",),
        why="w",
        remediation="r",
        match=match,
        positive=(rec,),
        negative=(rec,),
        events=events,
    )


def test_an_event_only_runs_the_rules_indexed_under_its_name() -> None:
    calls: list[str] = []
    analyzer = Analyzer(rules=[_counting_rule(calls, ("StopLogging", "AddPermission"))])
    for name in ("DescribeInstances", "StopLogging", "GetObject", "AddPermission20150331v2"):
        analyzer.feed(Event.from_record(record(name, "x.amazonaws.com")))
    assert calls == ["StopLogging", "AddPermission20150331v2"]
    [finding] = analyzer.finish().findings  # same rule, principal and detail: one finding
    assert len(finding.event_ids) == 2


def test_parking_for_late_attribution_is_bounded(monkeypatch: Any) -> None:
    monkeypatch.setattr(analyzer_module, "PARKED_TOTAL", 5)
    analyzer = Analyzer(principals=[AGENT_ROLE])
    other = "arn:aws:iam::111111111111:role/other"
    for n in range(8):
        analyzer.feed(
            Event.from_record(
                record("GetObject", "s3.amazonaws.com", identity=role_identity(other, key=f"ASIA{n}"))
            )
        )
    analysis = analyzer.finish()
    assert (analysis.attributed, analysis.parked_unresolved, analysis.parked_dropped) == (0, 5, 3)


def test_findings_are_sorted_by_time_then_severity() -> None:
    analyzer = Analyzer()
    late = record(
        "StopLogging", "cloudtrail.amazonaws.com", time="2026-11-25T12:00:00Z", request={"name": "t"}
    )
    early = record("CreateUser", "iam.amazonaws.com", time="2026-11-25T09:00:00Z", request={"userName": "u"})
    for rec in (late, early):
        analyzer.feed(Event.from_record(rec))
    assert [f.rule_id for f in analyzer.finish().findings] == ["iam_user_created", "cloudtrail_tampering"]
