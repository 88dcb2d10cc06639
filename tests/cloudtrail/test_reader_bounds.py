"""The reader on hostile input: it never raises, and what it reports is bounded per file."""

from __future__ import annotations

import gzip
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from irkit.cloudtrail import reader
from irkit.cloudtrail.reader import (
    MAX_MALFORMED_PER_FILE,
    MAX_NAMED_PER_FILE,
    SYMLINK_OUTSIDE,
    ReadStats,
    iter_events,
)
from irkit.cloudtrail.writer import synthetic_record

PROPERTY = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
NAMES = ("a.json", "a.json.gz", "a.jsonl", "a.jsonl.gz")
JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1) | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=20,
)
# Records as an attacker would shape them: real field names with any values, and anything at all.
RECORDS = st.one_of(
    JSON,
    st.fixed_dictionaries(
        {},
        optional={
            "eventName": JSON,
            "eventTime": JSON | st.sampled_from(["2026-11-25T01:02:03Z", "garbage"]),
            "userIdentity": JSON,
            "requestParameters": JSON,
            "eventID": JSON,
            "readOnly": JSON,
        },
    ),
)


def _one_file_gaps_bound() -> int:
    # a file: its own gap (unreadable / not JSON) or, per kind, the named ones plus one count, and one
    # for the records left unread
    return 2 * (MAX_NAMED_PER_FILE + 1) + 1


@PROPERTY
@given(name=st.sampled_from(NAMES), body=st.binary(max_size=2000), compress=st.booleans())
def test_arbitrary_bytes_never_raise_and_give_bounded_gaps(
    tmp_path: Path, name: str, body: bytes, compress: bool
) -> None:
    folder = tmp_path / "logs"
    folder.mkdir(exist_ok=True)
    for old in folder.iterdir():
        old.unlink()
    (folder / name).write_bytes(gzip.compress(body) if compress else body)
    stats = ReadStats()
    events = list(iter_events([folder], stats, workers=0))
    assert stats.files == 1
    assert len(stats.gaps) <= _one_file_gaps_bound()
    assert len(events) <= stats.events


@PROPERTY
@given(records=st.lists(RECORDS, max_size=40), jsonl=st.booleans())
def test_arbitrary_records_never_raise_and_every_one_is_an_event_or_counted(
    tmp_path: Path, records: list[Any], jsonl: bool
) -> None:
    path = tmp_path / ("x.jsonl" if jsonl else "x.json")
    if jsonl:
        path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in records))
    else:
        path.write_bytes(orjson.dumps({"Records": records}))
    stats = ReadStats()
    events = list(iter_events([path], stats, workers=0))
    assert len(stats.gaps) <= MAX_NAMED_PER_FILE + 2
    named = [g for g in stats.gaps if g.reason.startswith("malformed record:")]
    counted = [int(g.reason.split(": ")[1].split(" ")[0]) for g in stats.gaps if " more in this file" in g.reason]
    unread = [int(g.reason.split(" ")[2]) for g in stats.gaps if g.reason.startswith("not read: ")]
    assert len(events) + len(named) + sum(counted) + sum(unread) == len(records)


def test_malformed_records_are_named_up_to_a_bound_then_counted(tmp_path: Path) -> None:
    path = tmp_path / "x.json.gz"
    good = synthetic_record(datetime(2026, 11, 25, 1, tzinfo=UTC), seq=1)
    junk = MAX_MALFORMED_PER_FILE - 1
    path.write_bytes(gzip.compress(b'{"Records":[' + b"{}," * junk + orjson.dumps(good) + b"]}"))
    stats = ReadStats()
    events = list(iter_events([path], stats, workers=0))
    assert [e.event_id for e in events] == [good["eventID"]]  # the real record among the junk is still read
    assert len(stats.gaps) == MAX_NAMED_PER_FILE + 1
    assert stats.gaps[-1].reason == f"malformed records: {junk - MAX_NAMED_PER_FILE} more in this file, not listed"


def test_a_file_of_malformed_records_is_read_no_further_than_the_bound(tmp_path: Path) -> None:
    path = tmp_path / "x.json.gz"
    path.write_bytes(gzip.compress(b'{"Records":[' + b"{}," * 300_000 + b"{}]}"))
    stats = ReadStats()
    assert list(iter_events([path], stats, workers=0)) == []
    assert len(stats.gaps) == MAX_NAMED_PER_FILE + 2
    assert stats.gaps[-2].reason.startswith(f"malformed records: {MAX_MALFORMED_PER_FILE - MAX_NAMED_PER_FILE} more")
    assert stats.gaps[-1].reason.startswith(f"not read: {300_001 - MAX_MALFORMED_PER_FILE} records after")


def test_many_bad_lines_are_named_up_to_the_bound_then_counted(tmp_path: Path) -> None:
    path = tmp_path / "x.jsonl"
    path.write_bytes(b"not json\n" * 1000)
    stats = ReadStats()
    assert list(iter_events([path], stats, workers=0)) == []
    assert len(stats.gaps) == MAX_NAMED_PER_FILE + 1
    assert stats.gaps[-1].reason.startswith(f"lines that are not valid JSON: {1000 - MAX_NAMED_PER_FILE} more")


def test_a_symlink_out_of_the_folder_is_a_gap_and_not_read(tmp_path: Path) -> None:
    secret = tmp_path / "elsewhere" / "other-case.json"
    secret.parent.mkdir()
    rec = synthetic_record(datetime(2026, 11, 25, 1, tzinfo=UTC), seq=7)
    secret.write_bytes(orjson.dumps({"Records": [rec]}))
    logs = tmp_path / "evidence"
    logs.mkdir()
    (logs / "inside.json").write_bytes(orjson.dumps({"Records": [rec]}))
    (logs / "planted.json").symlink_to(secret)
    (logs / "alias.json").symlink_to(logs / "inside.json")  # a link that stays inside is just a file
    stats = ReadStats()
    events = list(iter_events([logs], stats, workers=0))
    assert len(events) == 2
    assert [(g.path, g.reason) for g in stats.gaps] == [(str(logs / "planted.json"), SYMLINK_OUTSIDE)]


def test_folders_linked_out_of_the_folder_are_gaps_as_if_each_file_were_resolved(tmp_path: Path) -> None:
    """The listing resolves a folder once and a plain file through it: the same files and gaps as
    resolving every file's own path (links to files and to folders, inside and out, nested)."""
    from irkit.cloudtrail.keys import inside

    rec = orjson.dumps({"Records": [synthetic_record(datetime(2026, 11, 25, 1, tzinfo=UTC), seq=1)]})
    outside = tmp_path / "outside" / "deep"
    outside.mkdir(parents=True)
    (outside / "o.json").write_bytes(rec)
    root = tmp_path / "evidence"
    (root / "a" / "b").mkdir(parents=True)
    (root / "a" / "b" / "real.json").write_bytes(rec)
    (root / "a" / "out").symlink_to(tmp_path / "outside")  # a folder out of the evidence
    (root / "a" / "b" / "in").symlink_to(root / "a")  # a folder link that stays inside
    (root / "a" / "f.json").symlink_to(outside / "o.json")
    (root / "a" / "g.json").symlink_to(root / "a" / "b" / "real.json")
    (root / "a" / "dangling.json").symlink_to(tmp_path / "nowhere.json")
    refused: list[reader.Gap] = []
    listed = list(reader.iter_log_files(root, refused=refused))
    every = [p for p in sorted(root.rglob("*")) if p.is_file() and reader.is_log_path(p)]
    assert listed == [p for p in every if inside(root, p)]
    assert [g.path for g in refused] == [str(p) for p in every if not inside(root, p)]
    assert str(root / "a" / "f.json") in [g.path for g in refused] and root / "a" / "g.json" in listed
    linked = tmp_path / "evidence-link"  # the folder itself named through a link: the same files
    linked.symlink_to(root)
    again: list[reader.Gap] = []
    assert [p.relative_to(linked) for p in reader.iter_log_files(linked, refused=again)] == [
        p.relative_to(root) for p in listed
    ]
    assert len(again) == len(refused)


def test_the_listing_is_the_sorted_paths_and_an_unlisted_folder_is_a_gap(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Folders walked depth first, each one's entries by name: the order of the paths sorted (a
    folder's files before a sibling file whose name extends the folder's, capitals first, hidden
    files too); a digest folder is not read; a folder that cannot be listed is a named gap."""
    root = tmp_path / "evidence"
    names = ["a/x.json", "a.json", "a-b/y.json.gz", "A/z.jsonl", "a/b/c/d.json", "a/.hidden.json",
             "10/e.json", "9/e.json", "a b/f.jsonl.gz", "a/CloudTrail-Digest/g.json.gz", "a/notes.txt",
             "é/h.json"]  # fmt: skip
    for name in names:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(b"{}")
    listed = list(reader.iter_log_files(root))
    assert listed == [p for p in sorted(root.rglob("*")) if p.is_file() and reader.is_log_path(p)]
    assert len(listed) == len(names) - 2 and root / "a" / "b" / "c" / "d.json" in listed
    real = reader.os.scandir

    def scandir(path: Any) -> Any:
        if Path(path) == root / "a" / "b":
            raise PermissionError(13, "Permission denied")
        return real(path)

    monkeypatch.setattr(reader.os, "scandir", scandir)
    refused: list[reader.Gap] = []
    assert list(reader.iter_log_files(root, refused=refused)) == [p for p in listed if p.name != "d.json"]
    assert [(g.path, g.reason) for g in refused] == [(str(root / "a" / "b"), "folder not listed: Permission denied")]
    stats = ReadStats()
    reader.log_files([root], stats)
    assert [g.path for g in stats.gaps] == [str(root / "a" / "b")]


def test_a_newline_in_a_file_name_does_not_confuse_the_worker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(reader, "PARALLEL_MIN_FILES", 1)
    monkeypatch.setattr(reader, "SHARED_MEMORY", tmp_path / "shm")
    (tmp_path / "shm").mkdir()
    logs = tmp_path / "logs"
    logs.mkdir()
    ids = []
    for i, name in enumerate(["a\nb.json", "b.json", "c\n.json"]):
        rec = synthetic_record(datetime(2026, 11, 25, 1, i, tzinfo=UTC), seq=i)
        ids.append(rec["eventID"])
        (logs / name).write_bytes(orjson.dumps({"Records": [rec]}))
    stats = ReadStats()
    got = [e.event_id for e in iter_events([logs], stats, workers=1)]
    assert stats.gaps == []
    assert sorted(got) == sorted(ids)
