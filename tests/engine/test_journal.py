from __future__ import annotations

import itertools
from pathlib import Path

import orjson
import pytest

from irkit.core.journal import Journal, verify_chain
from irkit.errors import CaseError


def make(tmp_path: Path, n: int = 4) -> Path:
    journal = Journal(tmp_path / "journal.jsonl")
    for i in range(n):
        journal.append("action.done", step="s", index=i)
    return journal.path


def test_each_entry_carries_the_previous_hash(tmp_path: Path) -> None:
    lines = [orjson.loads(x) for x in make(tmp_path).read_bytes().splitlines()]
    assert lines[0]["prev"] == "0" * 64
    for before, after in itertools.pairwise(lines):
        assert after["prev"] == before["hash"]
    assert verify_chain(tmp_path / "journal.jsonl") == []


def test_edited_entry_breaks_the_chain(tmp_path: Path) -> None:
    path = make(tmp_path)
    lines = path.read_bytes().splitlines()
    entry = orjson.loads(lines[1])
    entry["data"]["index"] = 99
    lines[1] = orjson.dumps(entry)
    path.write_bytes(b"\n".join(lines) + b"\n")
    assert any("line 2" in p and "altered" in p for p in verify_chain(path))


def test_removed_entry_breaks_the_chain(tmp_path: Path) -> None:
    path = make(tmp_path)
    lines = path.read_bytes().splitlines()
    del lines[2]
    path.write_bytes(b"\n".join(lines) + b"\n")
    assert any("link broken" in p for p in verify_chain(path))


def test_reopening_continues_the_chain(tmp_path: Path) -> None:
    path = make(tmp_path, 2)
    Journal(path).append("run.resume")
    assert verify_chain(path) == []
    assert [orjson.loads(x)["seq"] for x in path.read_bytes().splitlines()] == [1, 2, 3]


def test_a_damaged_journal_refuses_to_grow(tmp_path: Path) -> None:
    path = make(tmp_path, 2)
    path.write_bytes(path.read_bytes().replace(b'"index":1', b'"index":7'))
    with pytest.raises(CaseError, match="damaged"):
        Journal(path)


def test_secrets_never_reach_the_journal(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "journal.jsonl")
    journal.append("x", credentials={"AccessKeyId": "AKIAEXAMPLE", "SecretAccessKey": "wJalrXUtnFEMI/K7MDENG"})
    text = journal.path.read_text()
    assert "wJalrXUtnFEMI" not in text and "AKIAEXAMPLE" in text
