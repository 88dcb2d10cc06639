"""The typed reader (``iter_events(..., lazy=True)``, what ``analyze`` uses) reads the same events and
names the same gaps as the tolerant one, and the labelled set's findings through files are the ones
of the events built by ``Event.from_record`` (issue 14: findings identical before and after)."""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import Any

import msgspec
import orjson
import pytest

from irkit.cloudtrail import typed as typed_module
from irkit.cloudtrail.analyze import analyze_paths
from irkit.cloudtrail.reader import ReadStats, iter_events
from irkit.detect.analyzer import Analyzer
from irkit.detect.event import Event
from irkit.detect.labelled import generate

FIELDS = [f.name for f in msgspec.structs.fields(Event) if not f.name.endswith("_source")] + ["request", "response"]

GOOD: dict[str, Any] = {
    "eventTime": "2026-11-25T03:12:09Z",
    "eventName": "CreateAccessKey",
    "eventSource": "iam.amazonaws.com",
    "awsRegion": "us-east-1",
    "eventID": "e-good",
    "eventType": "AwsApiCall",
    "recipientAccountId": "111111111111",
    "userIdentity": {
        "type": "AssumedRole",
        "arn": "arn:aws:sts::111111111111:assumed-role/agent/s",
        "accessKeyId": "ASIAEXAMPLE",
        "sessionContext": {"sessionIssuer": {"arn": "arn:aws:iam::111111111111:role/agent"}},
    },
    "requestParameters": {"userName": "x", "nested": {"a": [1, 2.5, None, True]}},
    "responseElements": {"accessKey": {"accessKeyId": "AKIAEXAMPLE"}},
    "readOnly": False,
    "resources": [{"ARN": "arn:aws:iam::111111111111:user/x", "type": "AWS::IAM::User"}],
}

# Each off the schema somewhere: the typed decoder must hand it to the tolerant path.
ODD: list[Any] = [
    {**GOOD, "eventID": 12345},  # a number where a string belongs
    {**GOOD, "readOnly": "false"},
    {**GOOD, "errorCode": 7},
    {**GOOD, "userIdentity": "root"},  # not an object: read as no identity
    {**GOOD, "userIdentity": {"type": "Root", "sessionContext": ["x"]}},
    {**GOOD, "userIdentity": {"type": "X", "sessionContext": {"sessionIssuer": {"arn": 9}}}},
    {**GOOD, "requestParameters": ["not", "an", "object"], "responseElements": "text"},
    {**GOOD, "requestParameters": None, "responseElements": None},
    {k: v for k, v in GOOD.items() if k not in ("userIdentity", "requestParameters")},
    {**GOOD, "eventTime": "yesterday"},  # malformed: a named gap
    {"eventName": "NoTime"},  # malformed
    {**GOOD, "eventName": None},  # malformed
    17,  # not an object: malformed
    [GOOD],
    {**GOOD, "eventType": None, "recipientAccountId": None},
    {**GOOD, "eventTime": "2026-11-25T03:12:09+02:00"},
    {**GOOD, "vpcEndpointId": 5, "resources": "text"},
    {**GOOD, "additionalEventData": {"MFAUsed": "No"}, "vpcEndpointId": "vpce-1"},
]


def _events(paths: list[Path], *, lazy: bool) -> tuple[list[Event], ReadStats]:
    stats = ReadStats()
    return list(iter_events(paths, stats, lazy=lazy, workers=0)), stats


def _same(a: Event, b: Event) -> None:
    for name in FIELDS:
        assert getattr(a, name) == getattr(b, name), name
    assert dict(a.raw) == dict(b.raw)


@pytest.mark.parametrize("gz", [False, True])
def test_typed_and_tolerant_readers_agree_record_by_record(tmp_path: Path, gz: bool) -> None:
    body = orjson.dumps({"Records": [GOOD, *ODD, GOOD]})
    path = tmp_path / ("a.json.gz" if gz else "a.json")
    path.write_bytes(gzip.compress(body) if gz else body)
    tolerant, s1 = _events([tmp_path], lazy=False)
    typed, s2 = _events([tmp_path], lazy=True)
    assert len(typed) == len(tolerant) == len(ODD) + 2 - 5  # five malformed records
    assert type(typed[0].request_source) is msgspec.Raw  # the typed path was taken for the record that fits
    for a, b in zip(tolerant, typed, strict=True):
        _same(a, b)
    assert [g.to_json() for g in s1.gaps] == [g.to_json() for g in s2.gaps]
    assert len(s2.gaps) == 5 and all("malformed record" in g.reason for g in s2.gaps)


def test_lazy_fields_decode_once_and_answer_like_dicts(tmp_path: Path) -> None:
    (tmp_path / "a.json").write_bytes(orjson.dumps({"Records": [GOOD]}))
    (event,), _ = _events([tmp_path], lazy=True)
    assert type(event.request_source) is msgspec.Raw  # kept as JSON bytes until asked
    assert event.request is event.request  # decoded at most once
    assert event.request == GOOD["requestParameters"] and event.response == GOOD["responseElements"]
    raw = event.raw
    assert raw.get("eventType") == "AwsApiCall" and raw.get("vpcEndpointId", "none") == "none"
    assert raw.get("resources") == GOOD["resources"] and raw.get("vpcEndpointId") is None
    assert raw["userIdentity"] == GOOD["userIdentity"] and "eventName" in raw and len(raw) == len(GOOD)
    assert dict(raw) == GOOD
    with pytest.raises(AttributeError):
        event.request = {}  # type: ignore[misc]
    with pytest.raises(AttributeError):
        event.event_name = "DeleteTrail"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b'{"Records": [1, 2', "not valid JSON"),
        (b'{"Records": {"a": 1}}', 'no "Records" array'),
        (b'{"digestStartTime": "x"}', None),
        (b"[]", 'no "Records" array'),
        # nested past any decoder's depth: a gap, never a RecursionError
        (b'{"Records": [{"eventName": "A", "x": ' + b"[" * 5000 + b"]" * 5000 + b"}]}", "not valid JSON"),
    ],
)
def test_documents_off_the_schema_get_the_tolerant_readers_gap(tmp_path: Path, body: bytes, reason: str | None) -> None:
    (tmp_path / "a.json").write_bytes(body)
    _, s1 = _events([tmp_path], lazy=False)
    _, s2 = _events([tmp_path], lazy=True)
    assert [g.to_json() for g in s1.gaps] == [g.to_json() for g in s2.gaps]
    assert (reason is None) == (not s2.gaps)
    if reason is not None:
        assert reason in s2.gaps[0].reason


def test_labelled_set_findings_through_the_typed_reader_are_unchanged(tmp_path: Path) -> None:
    data = generate(benign=3_000, seed=5, variants=2)
    records = list(data.records)
    for i in range(0, len(records), 700):  # several files, as an archive delivers them
        (tmp_path / f"part-{i:06d}.json").write_bytes(orjson.dumps({"Records": records[i : i + 700]}))
    for principals in (data.principals, None):
        analyzer = Analyzer(principals=principals)
        for record in records:
            analyzer.feed(Event.from_record(record))
        expected = analyzer.finish()
        analysis, stats = analyze_paths([tmp_path], principals=principals)
        assert stats.events == len(records) and not stats.gaps
        assert expected.findings, "the labelled set has incidents: findings expected"
        assert orjson.dumps(analysis.findings_json()) == orjson.dumps(expected.findings_json())
        assert [c.to_json() for c in analysis.chain] == [c.to_json() for c in expected.chain]
        assert analysis.inventory.to_json() == expected.inventory.to_json()


def test_typed_events_form_no_reference_cycles(tmp_path: Path) -> None:
    # The analysis pass pauses the cyclic collector: an event kept alive by a cycle through its own
    # raw mapping was never freed (200k events: 370 MiB). Refcounting alone must free them.
    import gc

    (tmp_path / "a.json").write_bytes(orjson.dumps({"Records": [GOOD] * 50}))
    paused = gc.isenabled()
    gc.disable()
    try:
        events, _ = _events([tmp_path], lazy=True)
        assert len(events) == 50 and all(e.raw.get("userIdentity") for e in events)  # raw, decoded too
        assert all(e.request and e.response for e in events)
        del events
        # events are not tracked by the collector (gc=False); what they hold is, and must be freed
        kept = (typed_module._RecordView, typed_module._Record)
        left = [o for o in gc.get_objects() if type(o) in kept]
        assert left == []
    finally:
        if paused:
            gc.enable()


def test_typed_reader_over_inflate_workers_matches_one_process(tmp_path: Path) -> None:
    # enough files for the inflate workers: each file comes back through shared memory, read
    # into bytes the typed decode keeps views into; the events must be those of one process
    from irkit.cloudtrail.reader import PARALLEL_MIN_FILES

    for i in range(PARALLEL_MIN_FILES + 6):
        records = [{**GOOD, "eventID": f"e-{i}-{j}"} for j in range(5)] + [ODD[i % len(ODD)]]
        (tmp_path / f"f{i:03d}.json.gz").write_bytes(gzip.compress(orjson.dumps({"Records": records})))
    s1, s2 = ReadStats(), ReadStats()
    tolerant = list(iter_events([tmp_path], s1, workers=0))
    typed = list(iter_events([tmp_path], s2, lazy=True, workers=1))
    assert len(typed) == len(tolerant) > 5 * PARALLEL_MIN_FILES
    for a, b in zip(tolerant, typed, strict=True):
        _same(a, b)
    assert [g.to_json() for g in s1.gaps] == [g.to_json() for g in s2.gaps] and s2.gaps


def test_a_parked_event_keeps_its_own_bytes_not_its_files(tmp_path: Path) -> None:
    # The typed decode keeps views into a file's inflated bytes; an event parked for a late
    # attribution outlives its file and must hold only its own record (2,000 files of 500 KB
    # pinned by 20,000 parked events would be a gigabyte).
    import sys

    other = {**GOOD, "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::1:user/u", "accessKeyId": "AKIAX"}}
    (tmp_path / "a.json").write_bytes(orjson.dumps({"Records": [other] * 200}))
    (event, *_), _ = _events([tmp_path], lazy=True)
    detached = event.detached()
    assert detached is not event
    for value in (detached.request_source, detached.response_source):
        assert type(value) is msgspec.Raw and sys.getsizeof(bytes(value)) < 500
    for name in FIELDS:
        assert getattr(detached, name) == getattr(event, name), name
    _make, typed_record, source = detached.raw_source
    assert type(source) is bytes and len(source) < 1_000 and typed_record.requestParameters == msgspec.Raw(b"null")
    assert dict(detached.raw) == dict(event.raw) and detached.request == event.request
    assert detached.response == GOOD["responseElements"]
    analyzer = Analyzer(principals=["arn:aws:iam::1:role/agent"])
    analyzer.feed(event)
    (parked,) = [e for bucket in analyzer._parked.values() for e in bucket][:1]
    assert type(parked.raw_source.source) is bytes  # its view was built already (dict(event.raw)): copied too
    assert dict(parked.raw) == dict(event.raw)
