"""Issue 14, item 4: past its bounds the analysis state folds (addresses counted together, instants
rounded), and what a bound folded is said (``Analysis.folded``, ``analyze --json`` ``folded``), never silent."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson
import pytest

from irkit.detect import detector as detector_module
from irkit.detect.analyzer import SHARE_END, Analyzer, share_parts
from irkit.detect.detector import DetectorContext
from irkit.detect.detectors import _networks as networks_module
from irkit.detect.detectors._common import at, run_instances
from irkit.detect.detectors.ec2_instance_burst import InstanceBurst
from irkit.detect.detectors.iam_user_backdoor_sequence import UserBackdoor
from irkit.detect.event import Event
from irkit.detect.records import ACCOUNT, record, role_identity
from tests.detect.merging import analyse, fed, split_detector

PLAIN = DetectorContext(filtering=False)


def _events(records: Sequence[dict[str, Any]]) -> list[Event]:
    return [Event.from_record(r) for r in records]


def _calls(role: str, count: int, *, first_ip: int = 0) -> list[dict[str, Any]]:
    """``count`` calls of one role, each from its own address."""
    identity = role_identity(f"arn:aws:iam::{ACCOUNT}:role/{role}")
    return [
        record(
            "DescribeInstances",
            "ec2.amazonaws.com",
            identity=identity,
            ip=f"198.51.{(first_ip + n) // 250}.{(first_ip + n) % 250 + 1}",
            time=at(n / 10),
            event_id=f"{role}-{n:05d}",
            read_only=True,
        )
        for n in range(count)
    ]


@pytest.fixture
def small_address_bounds(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(networks_module, "MAX_ADDRESSES", 5)
    monkeypatch.setattr(networks_module, "MAX_ADDRESSES_TOTAL", 12)


@pytest.mark.usefixtures("small_address_bounds")
def test_addresses_past_the_bounds_are_counted_together_and_said() -> None:
    # three roles, eight addresses each: five a role at most, twelve in all
    events = _events(_calls("a", 8) + _calls("b", 8, first_ip=100) + _calls("c", 8, first_ip=200))
    analyzer = analyse(events)
    backdoor = next(d for d in analyzer._detectors if isinstance(d, UserBackdoor))
    tables = backdoor._ips.by_actor
    held = [len(ips.keys() - {networks_module.OVERFLOW}) for ips in tables.values()]
    assert held == [5, 5, 2]  # the per-role bound, then the bound over all
    assert [sum(ips.values()) for ips in tables.values()] == [8, 8, 8]  # every call still counted
    analysis = analyzer.finish()
    assert len(analysis.folded) == 2
    assert all("counted together" in note and "12 call(s) of 3 principal(s)" in note for note in analysis.folded)


def test_nothing_is_said_folded_below_the_bounds() -> None:
    assert analyse(_events(_calls("a", 8))).finish().folded == []


@pytest.mark.usefixtures("small_address_bounds")
def test_a_created_key_used_from_an_address_past_the_bounds_is_still_flagged() -> None:
    create_user, create_key, use = UserBackdoor.info.positive[0]
    creator = create_user["userIdentity"]
    # the creator calls from many addresses first: its table is full when the key is used
    noise = [
        record(
            "DescribeInstances",
            "ec2.amazonaws.com",
            identity=creator,
            ip=f"192.0.2.{n + 1}",
            time=at(-5 + n / 100),
            event_id=f"noise-{n}",
            read_only=True,
        )
        for n in range(30)
    ]
    analysis = analyse(_events([*noise, create_user, create_key, use])).finish()
    assert "iam_user_backdoor_sequence" in {f.rule_id for f in analysis.findings}
    assert analysis.folded


def test_time_cells_round_their_instants_past_the_bound_and_still_find_the_burst(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(detector_module, "MAX_CELLS", 40)
    monkeypatch.setattr(detector_module, "MAX_SAMPLES", 60)
    # 100 single launches three minutes apart (at most four in any ten minutes: no burst, rounded
    # or not), then twelve instances in five minutes
    quiet = [run_instances(n * 3, 1) for n in range(100)]
    burst = [run_instances(400 + n * 0.4, 1) for n in range(12)]
    events = _events(quiet + burst)

    def make() -> InstanceBurst:
        return InstanceBurst(PLAIN)

    detector = fed(make, events)
    assert detector._cells.step > 1
    assert detector._cells._held <= 40
    [found] = detector.finish()
    assert found.evidence["instances"] >= 12
    [note] = detector.folded()
    assert f"rounded down to {detector._cells.step} s" in note
    whole, merged = split_detector(make, events, 60)
    assert [f.rule_id for f in merged] == [f.rule_id for f in whole] == ["ec2_instance_burst"]
    assert whole[0].evidence["instances"] == merged[0].evidence["instances"]


def test_time_cells_below_the_bound_stay_exact_and_say_nothing() -> None:
    detector = fed(lambda: InstanceBurst(PLAIN), _events([run_instances(n * 0.4, 1) for n in range(12)]))
    assert detector._cells.step == 1 and detector.folded() == []


def test_a_share_of_an_analyzer_built_differently_is_refused_before_anything_merges() -> None:
    events = _events(_calls("a", 20))
    mine, theirs = analyse(events[:10]), analyse(events[10:])
    parts = list(share_parts(theirs.share()))
    assert parts[-1] == SHARE_END
    parts[0].detectors = parts[0].detectors[:-1]  # as if its detectors differed
    with pytest.raises(ValueError, match="built differently"):
        mine.merge_parts(iter(parts))
    assert mine.events == 10 and mine.finish().events == 10


def test_analyze_json_writes_the_findings_slice_by_slice_as_one_document() -> None:
    from irkit.cloudtrail.reader import ReadStats
    from irkit.commands.analyze import contract, document

    events = _events(_calls("a", 3))
    analysis = analyse(
        [*events, *_events([
            record(
                "CreateAccessKey",
                "iam.amazonaws.com",
                time=at(n),
                request={"userName": f"u{n}"},
                response={"accessKey": {"userName": f"u{n}", "accessKeyId": f"AKIAEXAMPLE0000000{n}"}},
            )
            for n in range(5)
        ])]
    ).finish()
    assert len(analysis.findings) >= 2
    stats = ReadStats(files=1, events=8)
    for per_chunk in (1, 2, 1_000):
        doc = contract(analysis, stats)
        doc["findings"].slices = analysis.findings_chunks(per_chunk)
        assert orjson.loads(document(doc))["findings"] == analysis.findings_json()
    empty = Analyzer().finish()
    assert orjson.loads(document(contract(empty, stats)))["findings"] == []


def test_past_the_sample_bound_a_burst_still_lists_an_id_an_instant(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(detector_module, "MAX_SAMPLES", 5)
    events = _events([run_instances(n * 0.4, 1) for n in range(12)])
    detector = fed(lambda: InstanceBurst(PLAIN), events)
    assert detector._cells._sampled == 5  # nothing kept past the bound
    [found] = detector.finish()
    # the five sampled ids, then the first id of each later instant: every launch is an instant here
    assert set(found.event_ids) == {e.event_id for e in events}
    [note] = detector.folded()
    assert "past 5 sampled event ids" in note


def _stopped(trail: str, count: int) -> list[dict[str, Any]]:
    return [
        record("StopLogging", "cloudtrail.amazonaws.com", request={"name": trail}, time=at(n), event_id=f"{trail}-{n}")
        for n in range(count)
    ]


def test_past_the_id_bound_each_finding_still_names_its_first_event(monkeypatch: pytest.MonkeyPatch) -> None:
    from irkit.detect import analyzer as analyzer_module

    monkeypatch.setattr(analyzer_module, "MAX_RULE_EVENT_IDS_TOTAL", 4)  # FOLDED_RULE_EVENT_IDS as shipped
    analysis = analyse(_events(_stopped("a", 6) + _stopped("b", 3) + _stopped("c", 2))).finish()
    listed = {f.detail: (len(f.event_ids), f.evidence["events"]) for f in analysis.findings}
    assert listed == {"StopLogging on a": (4, 6), "StopLogging on b": (1, 3), "StopLogging on c": (1, 2)}
    assert any("a finding lists no more ids once it lists 1 " in note for note in analysis.folded)


def test_rule_findings_list_ids_within_a_total_bound_and_count_every_event(monkeypatch: pytest.MonkeyPatch) -> None:
    from irkit.detect import analyzer as analyzer_module

    monkeypatch.setattr(analyzer_module, "MAX_RULE_EVENT_IDS_TOTAL", 30)
    monkeypatch.setattr(analyzer_module, "FOLDED_RULE_EVENT_IDS", 2)
    events = _events(_stopped("a", 40) + _stopped("b", 5) + _stopped("c", 5))
    analysis = analyse(events).finish()
    listed = {f.detail: (len(f.event_ids), f.evidence["events"]) for f in analysis.findings}
    assert listed == {"StopLogging on a": (30, 40), "StopLogging on b": (2, 5), "StopLogging on c": (2, 5)}
    assert any("past 30 event ids listed in all" in note for note in analysis.folded)
    # split anywhere and merged: the same bounds hold and every event is counted
    for cut in (10, 35, 45):
        first, second = analyse(events[:cut]), analyse(events[cut:])
        first.merge(second)
        merged = first.finish()
        assert sum(len(f.event_ids) for f in merged.findings) <= 30 + 2 * 2
        assert {f.detail: f.evidence["events"] for f in merged.findings} == {k: v[1] for k, v in listed.items()}
    # below the bound nothing is cut and nothing is said
    small = analyse(_events(_stopped("a", 5))).finish()
    assert [len(f.event_ids) for f in small.findings] == [5] and not small.folded


def test_past_the_kept_keys_bound_an_hour_keeps_its_edges_and_the_sequence_is_still_found(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from irkit.detect.detectors import iam_role_backdoor_sequence as role_module

    monkeypatch.setattr(role_module, "MAX_KEPT_KEYS", 6)
    # the agent mints a key every five minutes for ten hours before the backdoor: the bound is reached
    minted = [
        record(
            "CreateAccessKey",
            "iam.amazonaws.com",
            time=at(-600 + 5 * n),
            request={"userName": f"u{n}"},
            response={"accessKey": {"userName": f"u{n}", "accessKeyId": f"AKIAMINTED{n:010d}"}},
        )
        for n in range(120)
    ]
    sequence = list(role_module.RoleBackdoor.info.positive[0])
    analyzer = analyse(_events(minted + sequence))
    detector = next(d for d in analyzer._detectors if isinstance(d, role_module.RoleBackdoor))
    hours = [kept for by_hour in detector._keys.values() for kept in by_hour.values()]
    assert detector._kept == sum(len(k.hits) for k in hours)
    # the six first kept whole, then two an hour: far fewer than the 120 minted
    assert detector._kept <= 6 + 2 * len(hours) < 120
    assert all(len(k.hits) <= 2 for k in hours[2:])
    analysis = analyzer.finish()
    assert "iam_role_backdoor_sequence" in {f.rule_id for f in analysis.findings}
    assert any("past 6 access keys kept" in note for note in analysis.folded)


def test_a_share_whose_rule_groups_cross_in_several_parts_merges_as_one_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    from irkit.detect import analyzer as analyzer_module
    from tests.detect.merging import comparable, split_analysis

    monkeypatch.setattr(analyzer_module, "GROUPS_PER_PART", 2)
    events = _events([r for trail in "abcdefg" for r in _stopped(trail, 3)])
    later = analyse(events[10:])
    parts = list(share_parts(later.share()))
    assert parts[0].group_parts >= 2 and all(len(p) <= 2 for p in parts[1 : 1 + parts[0].group_parts])
    whole, merged = split_analysis(events, [10])
    assert comparable(merged.findings) == comparable(whole.findings)
    assert [f.detail for f in merged.findings] == [f.detail for f in whole.findings]
