"""`irkit journal verify CASE`: 0 intact, 1 broken (line, entry kind and what happened), 2 usage."""

from __future__ import annotations

import json
from pathlib import Path

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from irkit.cli import main
from irkit.core.journal import Journal, _digest, check_chain, verify_chain

KINDS = ["run.start", "step.start", "step.planned", "action.start", "action.done", "step.done", "run.end"]


def make_case(tmp_path: Path) -> Path:
    case = tmp_path / "IR-test"
    case.mkdir()
    journal = Journal(case / "journal.jsonl")
    for i, kind in enumerate(KINDS):
        journal.append(kind, step=None if kind.startswith("run.") else "contain", index=i)
    return case


def lines(case: Path) -> list[bytes]:
    return (case / "journal.jsonl").read_bytes().splitlines()


def write(case: Path, body: list[bytes], *, newline: bool = True) -> None:
    (case / "journal.jsonl").write_bytes(b"\n".join(body) + (b"\n" if newline else b""))


def verify(case: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[int, str]:
    code = main(["journal", "verify", str(case), *extra])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def test_an_intact_journal_exits_0_and_says_its_head(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    case = make_case(tmp_path)
    code, out = verify(case, capsys)
    assert code == 0
    last = orjson.loads(lines(case)[-1])
    assert "intact (7 entries" in out and f"head seq 7, hash {last['hash']}" in out


def test_an_edited_entry_is_named_by_line_and_kind(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    case = make_case(tmp_path)
    body = lines(case)
    body[3] = body[3].replace(b'"index":3', b'"index":33')  # action.start, line 4
    write(case, body)
    code, out = verify(case, capsys)
    assert code == 1
    assert "BROKEN: 1 problem(s), the first at line 4" in out
    assert "line 4 (action.start, seq 4): edited:" in out


def test_an_entry_edited_and_rehashed_names_the_edited_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    case = make_case(tmp_path)
    body = lines(case)
    entry = orjson.loads(body[4])
    entry["data"]["index"] = 44
    entry["hash"] = _digest(entry)  # a careful forger recomputes the hash; the next link still names the old one
    body[4] = orjson.dumps(entry)
    write(case, body)
    code, out = verify(case, capsys)
    assert code == 1
    assert "line 5 (action.done, seq 5): edited: rewritten with a new hash" in out


def test_a_removed_line_is_named_with_the_missing_sequence(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    case = make_case(tmp_path)
    body = lines(case)
    del body[2]  # step.planned, seq 3
    write(case, body)
    code, out = verify(case, capsys)
    assert code == 1
    assert "line 3 (action.start, seq 4): removed: 1 entry (seq 3) is missing before it" in out


def test_an_inserted_line_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    case = make_case(tmp_path)
    body = lines(case)
    forged = orjson.loads(body[3])
    forged["kind"] = "action.done"
    forged["data"] = {"action": {"kind": "deactivate-access-key"}}
    forged["hash"] = _digest(forged)  # links to line 3 correctly, as line 4 does
    body.insert(3, orjson.dumps(forged))
    write(case, body)
    code, out = verify(case, capsys)
    assert code == 1
    assert "line 4 (action.done, seq 4): inserted: it and line 5 both follow line 3 (seq 3)" in out
    problems = check_chain(case / "journal.jsonl").problems
    assert [(p.line, p.problem) for p in problems] == [(4, "inserted")]  # nothing else is blamed


def test_a_copied_line_is_named_as_inserted(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    case = make_case(tmp_path)
    body = lines(case)
    body.insert(5, body[1])
    write(case, body)
    code, out = verify(case, capsys)
    assert code == 1
    assert "line 6 (step.start, seq 2): inserted: a copy of line 2" in out


def test_reordered_lines_are_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    case = make_case(tmp_path)
    body = lines(case)
    body[3], body[4] = body[4], body[3]
    write(case, body)
    code, out = verify(case, capsys)
    assert code == 1
    assert "reordered: it belongs after line" in out
    problems = check_chain(case / "journal.jsonl").problems
    assert [(p.line, p.problem) for p in problems] in ([(4, "reordered")], [(5, "reordered")])


def test_a_torn_final_line_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    case = make_case(tmp_path)
    body = lines(case)
    body[-1] = body[-1][:40]
    write(case, body, newline=False)
    code, out = verify(case, capsys)
    assert code == 1
    assert "line 7: torn: the final line is incomplete" in out


def test_a_lost_final_newline_is_a_note_not_a_break(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    case = make_case(tmp_path)
    write(case, lines(case), newline=False)
    code, out = verify(case, capsys)
    assert code == 0 and "lost its newline" in out


def test_json_names_every_problem(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    case = make_case(tmp_path)
    body = lines(case)
    del body[1]
    body[4] = body[4].replace(b'"index":5', b'"index":55')
    write(case, body)
    code, out = verify(case, capsys, "--json")
    assert code == 1
    data = json.loads(out)
    assert data["intact"] is False and data["problems_total"] == 2
    assert [(p["line"], p["kind"], p["problem"]) for p in data["problems"]] == [
        (2, "step.planned", "removed"),
        (5, "step.done", "edited"),
    ]


def test_usage_errors_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = verify(tmp_path / "nowhere", capsys)
    assert code == 2 and "no such case folder" in out
    code, out = verify(tmp_path, capsys, "--json")
    assert code == 2 and json.loads(out)["error"]["code"] == "usage"


def test_a_journal_entry_kind_cannot_reach_the_terminal_raw(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    case = make_case(tmp_path)
    body = lines(case)
    body[2] = body[2].replace(b'"kind":"step.planned"', b'"kind":"\\u001b]0;pwned\\u0007x"')
    write(case, body)
    code, out = verify(case, capsys)
    assert code == 1 and "\x1b" not in out and "\\x1b]0;pwned\\x07x" in out


def test_check_chain_agrees_with_verify_chain_on_a_real_runs_journal(tmp_path: Path) -> None:
    case = make_case(tmp_path)
    assert verify_chain(case / "journal.jsonl") == [] and check_chain(case / "journal.jsonl").intact


_MUTATION = st.sampled_from(["edit", "delete", "duplicate", "swap", "truncate", "blank", "move"])


@settings(max_examples=150, deadline=None)
@given(ops=st.lists(st.tuples(_MUTATION, st.integers(0, 6), st.integers(0, 6)), min_size=1, max_size=3))
def test_any_mutation_that_verify_chain_catches_is_broken_and_named(
    tmp_path_factory: pytest.TempPathFactory, ops: list[tuple[str, int, int]]
) -> None:
    case = make_case(tmp_path_factory.mktemp("j"))
    body = lines(case)
    newline = True
    for op, i, j in ops:
        if not body:
            break
        i, j = i % len(body), j % len(body)
        if op == "edit":
            body[i] = body[i].replace(b'"index":', b'"index":1')
        elif op == "delete":
            del body[i]
        elif op == "duplicate":
            body.insert(j, body[i])
        elif op == "swap":
            body[i], body[j] = body[j], body[i]
        elif op == "move":
            body.insert(j, body.pop(i))
        elif op == "truncate":
            body[-1] = body[-1][: len(body[-1]) // 2]
            newline = False
        elif op == "blank":
            body.insert(i, b"")
    write(case, body, newline=newline)
    path = case / "journal.jsonl"
    old = verify_chain(path)
    new = check_chain(path)
    # The two checks agree whether the chain holds (a cut at the very end is invisible to both).
    assert new.intact == (old == []), (old, [str(p) for p in new.problems])
    for problem in new.problems:
        assert problem.problem in {"edited", "removed", "inserted", "reordered", "torn", "damaged"}
        assert 1 <= problem.line <= new.lines
