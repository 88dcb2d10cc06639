"""Baseline deviations fold like rule details: a bounded number of findings per kind and principal."""

from __future__ import annotations

from irkit.cloudtrail.reader import event_from_record
from irkit.detect.analyzer import Analyzer
from irkit.detect.baseline import MAX_NEW_VALUES, Baseline
from irkit.detect.records import AGENT_ROLE, record


def test_new_apis_beyond_the_limit_fold_into_one_counted_finding_with_a_sample() -> None:
    baseline = Baseline(agent="a", principals=(AGENT_ROLE,), events=10, apis={"iam:ListRoles": 10})
    analyzer = Analyzer(baseline=baseline)
    extra = 7
    for i in range(MAX_NEW_VALUES + extra):
        for n in range(2):  # two calls of each new (read-only) API
            rec = record(f"GetThing{i}", "iam.amazonaws.com", read_only=True, event_id=f"g{i}-{n}")
            analyzer.feed(event_from_record(rec))
    apis = [f for f in analyzer.finish().findings if f.rule_id == "baseline_new_api"]
    assert len(apis) == MAX_NEW_VALUES + 1
    (folded,) = [f for f in apis if f.evidence.get("sample")]
    assert folded.evidence["values"] == extra and folded.evidence["events"] == 2 * extra
    assert folded.evidence["sample"] == [f"iam:GetThing{MAX_NEW_VALUES + i}" for i in range(5)]
    assert folded.severity == "low"  # new reads only, as for one value
    assert folded.title == f"API the agent has never called: {extra} more values"
    assert len(folded.event_ids) == 2 * extra
