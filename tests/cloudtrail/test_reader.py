"""The streaming reader: same events as Event.from_record, in file order, with or without workers."""

from __future__ import annotations

import gzip
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

from irkit.cloudtrail import reader
from irkit.cloudtrail.reader import ReadStats, event_from_record, iter_events
from irkit.cloudtrail.writer import synthetic_record
from irkit.detect.event import Event, MalformedRecord

T0 = datetime(2026, 11, 25, tzinfo=UTC)

ODD_RECORDS: list[Any] = [
    synthetic_record(T0),
    {"eventName": "X", "eventTime": "2026-11-25T01:02:03Z"},
    {"eventName": "X", "eventTime": "2026-11-25T01:02:03+02:00", "eventID": 7, "awsRegion": None},
    {"eventName": "X", "eventTime": "2026-11-25T01:02:03", "userIdentity": "not a mapping"},
    {"eventName": "X", "eventTime": "2026-11-25T01:02:03.123Z", "errorCode": 0, "readOnly": "true",
     "userIdentity": {"type": "AssumedRole", "arn": "a", "sessionContext": {"sessionIssuer": "x"}}},
    {"eventName": "X", "eventTime": "2026-11-25T01:02:03Z", "recipientAccountId": "123",
     "userIdentity": {"sessionContext": {"sessionIssuer": {"arn": ""}}}, "requestParameters": [1],
     "responseElements": {"a": 1}, "errorCode": "AccessDenied", "readOnly": False},
]  # fmt: skip
BAD_RECORDS: list[Any] = [
    {"eventName": "X"},
    {"eventName": 1, "eventTime": "2026-11-25T01:02:03Z"},
    {"eventName": "X", "eventTime": "yesterday"},
    ["not", "a", "record"],
]


@pytest.mark.parametrize("record", ODD_RECORDS)
def test_fast_event_building_equals_from_record(record: Any) -> None:
    fast, slow = event_from_record(record), Event.from_record(record)
    assert fast == slow
    assert fast.event_time.tzinfo is not None and fast.event_time.utcoffset() == timedelta(0)


@pytest.mark.parametrize("record", BAD_RECORDS)
def test_fast_event_building_rejects_what_from_record_rejects(record: Any) -> None:
    with pytest.raises(MalformedRecord):
        Event.from_record(record)
    with pytest.raises(MalformedRecord):
        event_from_record(record)


def _archive(root: Path, files: int, per_file: int = 3) -> list[str]:
    ids = []
    for i in range(files):
        records = []
        for j in range(per_file):
            rec = synthetic_record(T0 + timedelta(minutes=i, seconds=j), seq=i * 100 + j)
            ids.append(rec["eventID"])
            records.append(rec)
        path = root / f"{i // 10:02d}" / f"111111111111_CloudTrail_us-east-1_20261125T{i:04d}Z_f{i}.json.gz"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(gzip.compress(orjson.dumps({"Records": records})))
    return ids


def test_worker_processes_keep_file_order_and_clean_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(reader, "PARALLEL_MIN_FILES", 4)
    monkeypatch.setattr(reader, "SHARED_MEMORY", tmp_path / "shm")
    (tmp_path / "shm").mkdir()
    started: list[object] = []
    real_worker = reader._Worker

    def counting_worker(shm: Path) -> object:
        started.append(shm)
        return real_worker(shm)

    monkeypatch.setattr(reader, "_Worker", counting_worker)
    ids = _archive(tmp_path / "logs", 30)
    (tmp_path / "logs" / "01" / "broken.json.gz").write_bytes(b"not gzip")
    (tmp_path / "logs" / "02" / "empty.json").write_bytes(b"")
    stats = ReadStats()
    got = [e.event_id for e in iter_events([tmp_path / "logs"], stats, workers=2)]
    assert got == ids
    assert stats.files == 32 and stats.events == 90
    assert sorted(Path(g.path).name for g in stats.gaps) == ["broken.json.gz", "empty.json"]
    assert list((tmp_path / "shm").iterdir()) == []
    assert len(started) == 2
    sequential = ReadStats()
    assert [e.event_id for e in iter_events([tmp_path / "logs"], sequential, workers=0)] == ids
    assert sequential.gaps == stats.gaps


def test_stopping_early_leaves_no_shared_memory_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(reader, "PARALLEL_MIN_FILES", 4)
    monkeypatch.setattr(reader, "SHARED_MEMORY", tmp_path / "shm")
    (tmp_path / "shm").mkdir()
    _archive(tmp_path / "logs", 40)
    events = iter_events([tmp_path / "logs"], ReadStats(), workers=1)
    assert next(events).event_name == "DescribeInstances"
    events.close()
    assert list((tmp_path / "shm").iterdir()) == []


def test_sidecars_digests_and_manifests_are_not_logs(tmp_path: Path) -> None:
    _archive(tmp_path, 1)
    (tmp_path / "manifest.json").write_text("{}")
    digest_dir = tmp_path / "AWSLogs" / "111111111111" / "CloudTrail-Digest"
    digest_dir.mkdir(parents=True)
    (digest_dir / "d.json.gz").write_bytes(gzip.compress(b"{}"))
    (tmp_path / "00" / "x.json.gz.meta.json").write_text('{"signature": "ab"}')
    stats = ReadStats()
    assert len(list(iter_events([tmp_path], stats))) == 3
    assert stats.gaps == [] and stats.files == 1


def test_a_worker_that_dies_costs_speed_not_events(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(reader, "PARALLEL_MIN_FILES", 4)
    monkeypatch.setattr(reader, "SHARED_MEMORY", tmp_path / "shm")
    (tmp_path / "shm").mkdir()
    # the real worker, but it exits after its third file
    dying = reader._WORKER.replace(
        "for line in sys.stdin:", "for n, line in enumerate(sys.stdin):\n    if n == 3: break"
    )
    monkeypatch.setattr(reader, "_WORKER", dying)
    ids = _archive(tmp_path / "logs", 20)
    stats = ReadStats()
    assert [e.event_id for e in iter_events([tmp_path / "logs"], stats, workers=1)] == ids
    assert stats.gaps == []
    assert list((tmp_path / "shm").iterdir()) == []
