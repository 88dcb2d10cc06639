"""The journal's hash chain under what happens to files: blank lines, keys in another order, a lost
final newline, a torn last line, edits after a blank line, lines swapped, an entry that is no object.

Problems are checked by what they say (the line and the kind of damage), through ``str()``, so the
tests hold whatever type a problem becomes.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import threading
from pathlib import Path
from typing import Any

import orjson
import pytest

from irkit.core import journal as journal_module
from irkit.core.journal import ChainCheck, ChainProblem, Journal, check_chain, read_entries, verify_chain
from irkit.errors import CaseError

TS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def build(path: Path, n: int = 4) -> list[dict[str, Any]]:
    journal = Journal(path)
    return [journal.append("action.done", step="s", index=i, note="é ü") for i in range(n)]


def lines(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines()


def problems(path: Path) -> list[str]:
    return [str(p) for p in verify_chain(path)]


def canonical_sha256(entry: dict[str, Any]) -> str:
    """The documented hash, computed without irkit: SHA-256 of the entry without ``hash`` as
    JSON with sorted keys, no whitespace, UTF-8."""
    body = {k: v for k, v in entry.items() if k != "hash"}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def test_each_entry_is_hashed_over_its_canonical_json_and_links_to_the_previous(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    written = build(path)
    on_disk = [orjson.loads(x) for x in lines(path)]
    assert on_disk == written
    assert [e["seq"] for e in on_disk] == [1, 2, 3, 4]
    assert on_disk[0]["prev"] == "0" * 64
    for before, entry in zip([None, *on_disk], on_disk, strict=False):
        assert entry["hash"] == canonical_sha256(entry)
        assert entry["prev"] == (before["hash"] if before else "0" * 64)
        assert entry["kind"] == "action.done" and entry["step"] == "s"
        assert TS.match(entry["ts"]), entry["ts"]
    assert on_disk[2]["data"] == {"index": 2, "note": "é ü"}
    assert problems(path) == []


def test_keys_in_another_order_on_disk_still_verify(tmp_path: Path) -> None:
    """The hash is over the canonical form, not the line's bytes: a tool that rewrites the JSON
    with its keys in another order has not changed the record."""
    path = tmp_path / "journal.jsonl"
    build(path)
    reordered = []
    for raw in lines(path):
        entry = orjson.loads(raw)
        reordered.append(json.dumps(dict(reversed(list(entry.items()))), ensure_ascii=False).encode())
    path.write_bytes(b"\n".join(reordered) + b"\n")
    assert problems(path) == []
    Journal(path).append("run.resume")  # and it can grow
    assert problems(path) == []


@pytest.mark.parametrize("where", ["start", "middle", "end", "everywhere"])
def test_blank_lines_anywhere_do_not_break_the_chain(tmp_path: Path, where: str) -> None:
    path = tmp_path / "journal.jsonl"
    build(path)
    raw = lines(path)
    if where == "start":
        raw.insert(0, b"")
    elif where == "middle":
        raw.insert(2, b"   ")
    elif where == "end":
        raw.append(b"")
    else:
        raw = [x for line in raw for x in (b"", line, b"\t")]
    path.write_bytes(b"\n".join(raw) + b"\n")
    assert problems(path) == []
    assert [e["seq"] for e in read_entries(path)] == [1, 2, 3, 4]
    entry = Journal(path).append("run.resume")
    assert entry["seq"] == 5
    assert problems(path) == []


def test_an_edit_after_a_blank_line_is_still_found(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    build(path, 5)
    raw = lines(path)
    entry = orjson.loads(raw[3])
    entry["data"]["index"] = 99
    raw[3] = orjson.dumps(entry)
    raw.insert(1, b"")
    path.write_bytes(b"\n".join(raw) + b"\n")
    found = problems(path)
    assert len(found) == 1 and "line 5" in found[0] and "altered" in found[0]


def test_swapped_entries_are_named_at_the_first_broken_link(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    build(path)
    raw = lines(path)
    raw[1], raw[2] = raw[2], raw[1]
    path.write_bytes(b"\n".join(raw) + b"\n")
    found = problems(path)
    assert found[0].startswith("line 2") and "link broken" in found[0]
    assert any("line 2" in p and "sequence 3 where 2 was due" in p for p in found)


def test_a_removed_first_entry_breaks_the_link_to_genesis(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    build(path)
    path.write_bytes(b"\n".join(lines(path)[1:]) + b"\n")
    found = problems(path)
    assert found[0].startswith("line 1") and "link broken" in found[0]
    assert any("sequence 2 where 1 was due" in p for p in found)


def test_a_rehashed_forgery_still_breaks_the_next_link(tmp_path: Path) -> None:
    """Editing an entry and recomputing its own hash is not enough: the next entry names the old one."""
    path = tmp_path / "journal.jsonl"
    build(path)
    raw = lines(path)
    forged = orjson.loads(raw[1])
    forged["data"]["index"] = 42
    forged["hash"] = canonical_sha256(forged)
    raw[1] = orjson.dumps(forged)
    path.write_bytes(b"\n".join(raw) + b"\n")
    found = problems(path)
    assert len(found) == 1 and found[0].startswith("line 3") and "link broken" in found[0]


@pytest.mark.parametrize(
    ("line", "says"),
    [(b"[1, 2, 3]", "not a journal entry"), (b'"text"', "not a journal entry"), (b"{not json", "not valid JSON")],
)
def test_a_line_that_is_no_entry_stops_verification_there(tmp_path: Path, line: bytes, says: str) -> None:
    path = tmp_path / "journal.jsonl"
    build(path)
    raw = lines(path)
    raw.insert(2, line)
    path.write_bytes(b"\n".join(raw) + b"\n")
    assert problems(path) == [problems(path)[0]]  # one problem: nothing after it is trusted
    assert problems(path)[0].startswith("line 3") and says in problems(path)[0]


def test_a_truncated_last_line_is_named_as_truncated(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    build(path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - 30])
    found = problems(path)
    assert len(found) == 1 and found[0].startswith("line 4") and "truncated" in found[0]


def test_an_unreadable_journal_is_a_problem_not_a_traceback(tmp_path: Path) -> None:
    found = problems(tmp_path / "missing.jsonl")
    assert len(found) == 1 and "cannot read journal" in found[0]
    (tmp_path / "dir.jsonl").mkdir()
    assert "cannot read journal" in problems(tmp_path / "dir.jsonl")[0]


# -- crashes: a lost newline, a torn tail ---------------------------------------------------------


def test_a_complete_last_entry_that_lost_its_newline_gets_it_back(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    build(path, 3)
    path.write_bytes(path.read_bytes().rstrip(b"\n"))
    journal = Journal(path)
    assert not list(tmp_path.glob("*.torn-*"))  # nothing was torn: nothing set aside
    entry = journal.append("run.resume")
    assert entry["seq"] == 4
    assert problems(path) == []
    assert [e["kind"] for e in journal.entries()] == ["action.done"] * 3 + ["run.resume"]


def test_a_torn_last_line_is_set_aside_and_the_run_resumes(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    build(path, 3)
    torn = b'{"seq":4,"ts":"2026-11-25T20:00:00.000Z","kind":"action.st'
    path.write_bytes(path.read_bytes() + torn)
    journal = Journal(path)
    assert (tmp_path / "journal.jsonl.torn-1").read_bytes() == torn
    entries = journal.entries()
    assert [e["seq"] for e in entries] == [1, 2, 3, 4]
    repaired = entries[-1]
    assert repaired["kind"] == "journal.repaired"
    assert repaired["data"] == {
        "torn_bytes": len(torn),
        "torn_sha256": hashlib.sha256(torn).hexdigest(),
        "saved_to": "journal.jsonl.torn-1",
    }
    assert problems(path) == []
    # A second crash keeps the first torn file and writes the next one.
    path.write_bytes(path.read_bytes() + b'{"seq":5')
    Journal(path)
    assert (tmp_path / "journal.jsonl.torn-1").read_bytes() == torn
    assert (tmp_path / "journal.jsonl.torn-2").read_bytes() == b'{"seq":5'
    assert problems(path) == []


def test_a_torn_line_that_is_the_whole_journal_leaves_an_empty_chain(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    path.write_bytes(b'{"seq":1,"ts"')
    journal = Journal(path)
    assert [(e["seq"], e["kind"], e["prev"]) for e in journal.entries()] == [(1, "journal.repaired", "0" * 64)]


def test_damage_before_the_last_line_is_not_repaired_but_refused(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    build(path, 3)
    raw = lines(path)
    raw[1] = raw[1][:-20]  # a cut in the middle is no crash signature
    path.write_bytes(b"\n".join(raw) + b"\n")
    with pytest.raises(CaseError, match="line 2"):
        Journal(path)
    assert not list(tmp_path.glob("*.torn-*"))


def test_an_entry_is_on_disk_before_append_returns(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """fsync sees the whole line: written and flushed, then synced, before the action it announces."""
    path = tmp_path / "journal.jsonl"
    seen: list[bytes] = []
    real = os.fsync

    def fsync(fd: int) -> None:
        seen.append(path.read_bytes())  # what another process would read at this instant
        real(fd)

    monkeypatch.setattr(journal_module.os, "fsync", fsync)
    journal = Journal(path)
    first = journal.append("action.start", step="s")
    second = journal.append("action.done", step="s")
    assert [x.count(b"\n") for x in seen] == [1, 2]
    assert seen[0] == orjson.dumps(first) + b"\n" and seen[1].endswith(orjson.dumps(second) + b"\n")


def test_repairs_are_on_disk_before_the_journal_is_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "journal.jsonl"
    build(path, 2)
    complete = path.read_bytes()
    path.write_bytes(complete.rstrip(b"\n"))
    seen: list[bytes] = []
    real = os.fsync

    def fsync(fd: int) -> None:
        seen.append(path.read_bytes())
        real(fd)

    monkeypatch.setattr(journal_module.os, "fsync", fsync)
    Journal(path)
    assert seen == [complete]  # the newline put back and synced
    path.write_bytes(complete + b'{"torn')
    seen.clear()
    Journal(path)
    # Nothing is lost: the torn bytes are synced beside the journal while it still holds them, only
    # then is the tail cut off and synced, then the repair entry.
    assert seen[0] == complete + b'{"torn'
    assert (tmp_path / "journal.jsonl.torn-1").read_bytes() == b'{"torn'
    assert seen[1] == complete
    assert seen[-1].startswith(complete) and b"journal.repaired" in seen[-1]


def test_concurrent_appends_make_one_unbroken_chain(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    journal = Journal(path)

    def work(worker: int) -> None:
        for i in range(40):
            journal.append("action.done", step=f"w{worker}", i=i)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert problems(path) == []
    assert [e["seq"] for e in read_entries(path)] == list(range(1, 241))


def test_reopening_continues_from_the_last_entry(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    written = build(path, 2)
    entry = Journal(path).append("run.resume", step=None)
    assert entry["seq"] == 3 and entry["prev"] == written[-1]["hash"]
    assert Journal(tmp_path / "new.jsonl").entries() == []  # a journal not yet written has no entries
    empty = tmp_path / "empty.jsonl"
    empty.write_bytes(b"")
    assert Journal(empty).append("x")["prev"] == "0" * 64


def test_a_damaged_journal_tells_the_responder_what_to_do(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    build(path, 2)
    path.write_bytes(path.read_bytes().replace(b'"index":1', b'"index":7'))
    with pytest.raises(CaseError) as caught:
        Journal(path)
    message = str(caught.value)
    assert "line 2: entry altered" in message
    assert "keep the folder as evidence (its snapshots are what restore needs)" in message
    assert "start a new case with `irkit contain AGENT`" in message


# -- `irkit journal verify --json`: the documented shape (docs/cases.md) --------------------------


def test_the_json_of_an_intact_journal_names_its_head(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    written = build(path, 3)
    check = check_chain(path)
    assert check.to_json() == {
        "journal": str(path),
        "intact": True,
        "lines": 3,
        "entries": 3,
        "head": {"seq": 3, "hash": written[-1]["hash"]},
        "problems": [],
        "problems_total": 0,
        "notes": [],
    }


def test_the_json_of_a_broken_journal_names_each_problem_with_its_line(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    build(path, 4)
    rows = lines(path)
    path.write_bytes(b"\n".join([rows[0], rows[2], rows[3]]) + b"\n")  # entry 2 removed
    doc = check_chain(path).to_json()
    assert doc["intact"] is False and doc["lines"] == 3 and doc["entries"] == 3
    assert doc["problems_total"] == len(doc["problems"]) >= 1
    first = doc["problems"][0]
    assert set(first) == {"line", "seq", "kind", "problem", "detail"}
    assert (first["line"], first["seq"], first["kind"], first["problem"]) == (2, 3, "action.done", "removed")
    assert "2" in first["detail"]


def test_the_json_bounds_problems_and_notes_but_counts_them_all() -> None:
    problems = tuple(ChainProblem(n, "damaged", f"line {n}") for n in range(1, 151))
    check = ChainCheck("j", 150, 0, problems, tuple(f"note {n}" for n in range(150)), None, None)
    doc = check.to_json()
    assert len(doc["problems"]) == 100 and doc["problems_total"] == 150 and len(doc["notes"]) == 100
    assert doc["problems"][0] == {"line": 1, "seq": None, "kind": None, "problem": "damaged", "detail": "line 1"}
    assert doc["head"] == {"seq": None, "hash": None} and doc["intact"] is False
    small = check.to_json(limit=2)
    assert [p["line"] for p in small["problems"]] == [1, 2] and small["notes"] == ["note 0", "note 1"]
    assert small["problems_total"] == 150


def test_torn_bytes_set_aside_stay_private_and_never_overwrite_an_earlier_set_aside(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    build(path, 2)
    complete = path.read_bytes()
    for n, tail in enumerate((b'{"first', b'{"second'), start=1):
        path.write_bytes(complete + tail)
        Journal(path)
        saved = tmp_path / f"journal.jsonl.torn-{n}"
        assert saved.read_bytes() == tail
        assert saved.stat().st_mode & 0o777 == 0o600  # beside a private journal, as private
        complete = path.read_bytes()
    assert (tmp_path / "journal.jsonl.torn-1").read_bytes() == b'{"first'


# -- `irkit journal verify`: what each break is called, in the responder's words -----------------


def _written(path: Path, n: int, step: str = "s") -> list[bytes]:
    journal = Journal(path)
    for i in range(n):
        journal.append("action.done", step=step, index=i)
    return lines(path)


def test_a_second_run_writing_at_the_same_time_is_named_as_a_fork(tmp_path: Path) -> None:
    ours = _written(tmp_path / "a.jsonl", 3)
    (tmp_path / "b.jsonl").write_bytes(b"\n".join(ours[:2]) + b"\n")
    Journal(tmp_path / "b.jsonl").append("action.done", step="other", index=9)
    theirs = lines(tmp_path / "b.jsonl")[2]
    path = tmp_path / "journal.jsonl"
    path.write_bytes(b"\n".join([*ours, theirs]) + b"\n")
    check = check_chain(path)
    assert [str(p) for p in check.problems] == [
        "line 4 (action.done, seq 3): inserted: it and line 3 both follow line 2 (seq 2); the chain runs on"
        " through line 3: a fabricated entry, or a second run writing at the same time"
    ]
    assert (check.head_seq, check.entries) == (3, 4)


def test_a_second_first_entry_is_named_with_the_line_that_starts_the_chain(tmp_path: Path) -> None:
    ours = _written(tmp_path / "a.jsonl", 2)
    other = _written(tmp_path / "b.jsonl", 1, step="y")
    path = tmp_path / "journal.jsonl"
    path.write_bytes(b"\n".join([*ours, *other]) + b"\n")
    [problem] = check_chain(path).problems
    assert (problem.line, problem.problem, problem.seq, problem.kind) == (3, "inserted", 1, "action.done")
    assert problem.detail == "a second first entry (line 1 starts the chain)"


def test_a_line_that_is_no_entry_is_damaged_and_lines_after_a_blank_are_still_read(tmp_path: Path) -> None:
    ours = _written(tmp_path / "a.jsonl", 3)
    path = tmp_path / "journal.jsonl"
    path.write_bytes(b"\n".join([ours[0], b"", b'{"a": 1}', ours[1], b"", ours[2]]) + b"\n")
    check = check_chain(path)
    assert check.problems == (ChainProblem(3, "damaged", "not a journal entry (no seq, kind, prev and hash)"),)
    assert (check.entries, check.head_seq) == (3, 3)


def test_a_repaired_torn_line_is_a_note_naming_where_its_bytes_went(tmp_path: Path) -> None:
    ours = _written(tmp_path / "a.jsonl", 2)
    path = tmp_path / "journal.jsonl"
    path.write_bytes(b"\n".join(ours) + b'\n{"torn')
    Journal(path)
    check = check_chain(path)
    assert check.intact
    assert check.notes == ("line 3: a torn final line left by a crash was set aside as journal.jsonl.torn-1",)


def _forged(entry: dict[str, Any], **changes: Any) -> bytes:
    """``entry`` changed and re-hashed: its own hash holds, only the links can tell."""
    body = {k: v for k, v in {**entry, **changes}.items() if k != "hash"}
    return orjson.dumps({**body, "hash": journal_module._digest(body)})


@pytest.mark.parametrize(
    ("keep", "expected"),
    [
        ((0, 2, 3), "line 2 (action.done, seq 3): removed: 1 entry (seq 2) is missing before it: the entry it"
                    " links to is on no line"),
        ((0, 3, 4), "line 2 (action.done, seq 4): removed: 2 entries (seq 2..3) are missing before it: the entry"
                    " it links to is on no line"),
    ],
)  # fmt: skip
def test_removed_entries_are_named_by_their_sequence_numbers(
    tmp_path: Path, keep: tuple[int, ...], expected: str
) -> None:
    rows = _written(tmp_path / "a.jsonl", 5)
    path = tmp_path / "journal.jsonl"
    path.write_bytes(b"\n".join(rows[i] for i in keep) + b"\n")
    assert [str(p) for p in check_chain(path).problems] == [expected]


def test_forged_entries_whose_own_hash_holds_are_named_by_their_links(tmp_path: Path) -> None:
    rows = _written(tmp_path / "a.jsonl", 3)
    entries = [orjson.loads(r) for r in rows]
    path = tmp_path / "journal.jsonl"

    def check(*lines_: bytes) -> list[str]:
        path.write_bytes(b"\n".join(lines_) + b"\n")
        return [str(p) for p in check_chain(path).problems]

    assert check(_forged(entries[0], prev="1" * 64), rows[1]) == [
        "line 1 (action.done, seq 1): edited: the first entry's previous-hash is not the genesis value",
        "line 1 (action.done, seq 1): edited: rewritten with a new hash after it was written: the next entry"
        " (line 2) links to a hash no line has",
    ]
    assert check(rows[0], _forged(entries[1], seq=7)) == [
        "line 2 (action.done, seq 7): edited: sequence 7 where 2 was due"
    ]
    fabricated = orjson.loads(_forged(entries[1], prev="2" * 64, note="planted"))
    follower = _forged(entries[2], prev=fabricated["hash"], note="planted")
    taken = "inserted: its sequence number is already taken by line 2 and the entry it links to is on no line"
    assert check(*rows, orjson.dumps(fabricated)) == [f"line 4 (action.done, seq 2): {taken}"]
    assert check(*rows, orjson.dumps(fabricated), follower) == [
        f"line 4 (action.done, seq 2): {taken} (and 1 entries chained after it)",
        "line 5 (action.done, seq 3): inserted: not linked to the chain",
    ]


def test_a_line_of_broken_json_mid_file_is_damaged_and_the_lines_after_it_are_still_read(tmp_path: Path) -> None:
    rows = _written(tmp_path / "a.jsonl", 3)
    path = tmp_path / "journal.jsonl"
    path.write_bytes(b"\n".join([rows[0], b'{"seq": 2, "kind"', rows[1], rows[2]]) + b"\n")
    check = check_chain(path)
    assert check.problems == (ChainProblem(2, "damaged", "not valid JSON"),)
    assert (check.entries, check.head_seq) == (3, 3)


class _Killed(BaseException):
    """Stands in for the SIGKILL of the crash hook (the reliability harness kills a real process)."""


@pytest.mark.parametrize(
    ("point", "on_disk"),
    [("before:2", 1), ("after:2", 2), ("torn:2", 1.5), ("after:9", 3), ("sideways:2", 3), ("torn:x", 3)],
)
def test_the_crash_hook_stops_at_the_entry_and_the_moment_it_names(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, point: str, on_disk: float
) -> None:
    """The hook the crash-and-resume harness drives (tests/engine/test_crash_resume.py), in-process."""

    def die() -> None:
        raise _Killed

    monkeypatch.setattr(journal_module, "_die", die)
    monkeypatch.setenv("IRKIT_TEST_CRASH_JOURNAL", point)
    path = tmp_path / "journal.jsonl"
    journal = Journal(path)
    with contextlib.suppress(_Killed):
        for i in range(3):
            journal.append("action.done", step="s", index=i)
    data = path.read_bytes()
    complete, _, tail = data.rpartition(b"\n")
    assert complete.count(b"\n") + 1 == int(on_disk)
    if on_disk != int(on_disk):  # torn: half of the entry's line, fsynced, no newline
        assert 0 < len(tail) < len(complete.split(b"\n")[-1]) and not data.endswith(b"\n")
    else:
        assert tail == b""
