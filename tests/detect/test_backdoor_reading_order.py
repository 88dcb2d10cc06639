"""A backdoor's use read before its creation is still a backdoor: an archive is read region folder
by region folder (``ap-southeast-2`` sorts before ``us-east-1``, where IAM logs), not in time
order, so the key's or role's use in another region comes first. Found through the one-pass
analyzer and through every two-share split of the reordered scenario."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from irkit.detect.analyzer import Analyzer
from irkit.detect.detectors.iam_role_backdoor_sequence import RoleBackdoor
from irkit.detect.detectors.iam_user_backdoor_sequence import UserBackdoor
from irkit.detect.event import Event
from tests.detect.merging import split_analysis


def _uses_first(scenario: Sequence[Any]) -> list[Event]:
    """The scenario as an archive reads it when the use's region sorts first: every non-IAM call
    (the uses, the AssumeRole) before the IAM calls, each group in time order."""
    events = [Event.from_record(r) for r in scenario]
    iam = [e for e in events if e.event_source == "iam.amazonaws.com"]
    return [e for e in events if e.event_source != "iam.amazonaws.com"] + iam


def _ids(analysis: Any, rule: str) -> list[tuple[str, ...]]:
    return sorted(f.event_ids for f in analysis.findings if f.rule_id == rule)


@pytest.mark.parametrize(
    ("cls", "n"),
    [(cls, n) for cls in (UserBackdoor, RoleBackdoor) for n in range(len(cls.info.positive))],
    ids=lambda v: v.info.id if isinstance(v, type) else str(v),
)
def test_a_use_read_before_the_creation_is_still_the_sequence(cls: type[Any], n: int) -> None:
    scenario = cls.info.positive[n]
    in_time = [Event.from_record(r) for r in scenario]
    reordered = _uses_first(scenario)
    if [e.event_id for e in reordered] == [e.event_id for e in in_time]:
        pytest.skip("no use in this scenario comes before an IAM call")
    expected = _analysis(in_time)
    assert _ids(expected, cls.info.id), "the scenario in time order is a finding"
    got = _analysis(reordered)
    assert _ids(got, cls.info.id) == _ids(expected, cls.info.id)  # the same events, whatever the order
    for cut in range(1, len(reordered)):
        whole, merged = split_analysis(reordered, [cut])
        assert _ids(merged, cls.info.id) == _ids(whole, cls.info.id), cut


def _analysis(events: Sequence[Event]) -> Any:
    analyzer = Analyzer()
    for event in events:
        analyzer.feed(event)
    return analyzer.finish()
