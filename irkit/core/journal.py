"""An append-only JSONL journal whose entries are hash-chained.

Each entry carries the previous entry's hash and its own (SHA-256 over the canonical JSON of the
entry without ``hash``), so a removed, reordered or edited line breaks the chain and
:func:`verify_chain` names the first broken entry. Entries are flushed and fsynced before the call
returns: an action is on disk before it is attempted, and its outcome before the next one starts.
:func:`check_chain` explains a broken chain line by line (``irkit journal verify``).

The journal is private (0600). Only one run appends at a time: the case lock
(:mod:`irkit.core.lock`) guarantees it across processes, ``Journal``'s own lock across threads.

Test-only crash hook: when the environment variable ``IRKIT_TEST_CRASH_JOURNAL`` is
``after:N`` (``before:N``, ``torn:N``) the process SIGKILLs itself right after entry ``N`` is
fsynced (just before it is written; after half of its bytes are fsynced). The reliability harness
(``tests/engine/test_crash_resume.py``) uses it to crash ``irkit contain`` at exact journal
boundaries. Nothing else sets it; no configuration file can (it is read from the environment only).
"""

from __future__ import annotations

import hashlib
import itertools
import os
import signal
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from irkit.errors import CaseError
from irkit.redact import redact

GENESIS = "0" * 64
PRIVATE_FILE = 0o600
CRASH_ENV = "IRKIT_TEST_CRASH_JOURNAL"
"""Test-only: ``after:N`` | ``before:N`` | ``torn:N`` makes the process SIGKILL itself at entry N."""


def _crash_point() -> tuple[str, int] | None:
    raw = os.environ.get(CRASH_ENV)
    if not raw:
        return None
    mode, _, number = raw.partition(":")
    if mode in {"after", "before", "torn"} and number.isdigit():
        return mode, int(number)
    return None


def _die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def _open_private(path: Path, flags: int) -> int:
    """A journal file descriptor, created 0600 whatever the umask."""
    return os.open(path, flags | os.O_CREAT | os.O_CLOEXEC, PRIVATE_FILE)


def _digest(entry: dict[str, Any]) -> str:
    body = {k: v for k, v in entry.items() if k != "hash"}
    return hashlib.sha256(orjson.dumps(body, option=orjson.OPT_SORT_KEYS)).hexdigest()


class Journal:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._seq = 0
        self._last = GENESIS
        torn = _set_aside_torn_tail(path) if path.exists() else None
        if path.exists():
            problems = verify_chain(path)
            if problems:
                raise CaseError(
                    f"journal {path} is damaged: {problems[0]}. Its record can no longer be trusted: keep the"
                    " folder as evidence (its snapshots are what restore needs) and start a new case"
                    " with `irkit contain AGENT`; `irkit journal verify CASE` names every break"
                )
            for entry in read_entries(path):
                self._seq = int(entry["seq"])
                self._last = str(entry["hash"])
        if torn is not None:
            saved, size, sha = torn
            self.append("journal.repaired", torn_bytes=size, torn_sha256=sha, saved_to=saved.name)

    def append(self, kind: str, *, step: str | None = None, **data: Any) -> dict[str, Any]:
        with self._lock:
            entry: dict[str, Any] = {
                "seq": self._seq + 1,
                "ts": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
                "kind": kind,
                "step": step,
                "data": redact(data),
                "prev": self._last,
            }
            entry["hash"] = _digest(entry)
            line = orjson.dumps(entry, default=str) + b"\n"
            crash = _crash_point()
            if crash == ("before", entry["seq"]):
                _die()
            with os.fdopen(_open_private(self.path, os.O_WRONLY | os.O_APPEND), "wb") as fh:
                if crash == ("torn", entry["seq"]):
                    fh.write(line[: len(line) // 2])
                    fh.flush()
                    os.fsync(fh.fileno())
                    _die()
                fh.write(line)
                fh.flush()
                os.fsync(fh.fileno())
            if crash == ("after", entry["seq"]):
                _die()
            self._seq += 1
            self._last = entry["hash"]
            return entry

    def entries(self) -> list[dict[str, Any]]:
        return list(read_entries(self.path)) if self.path.exists() else []


def _set_aside_torn_tail(path: Path) -> tuple[Path, int, str] | None:
    """A crash mid-append leaves a last line without its newline. That entry was never complete
    (entries are fsynced before the action they announce), so the chain up to it still holds:
    keep the torn bytes beside the journal, cut them off, and let the run resume. A complete entry
    that only lost its newline gets the newline back. Damage anywhere else stays an error."""
    data = path.read_bytes()
    if not data or data.endswith(b"\n"):
        return None
    cut = data.rfind(b"\n") + 1
    tail = data[cut:]
    try:
        entry = orjson.loads(tail)
    except orjson.JSONDecodeError:
        entry = None
    if isinstance(entry, dict):
        with path.open("ab") as fh:
            fh.write(b"\n")
            fh.flush()
            os.fsync(fh.fileno())
        return None
    n = 1
    while (saved := path.with_name(f"{path.name}.torn-{n}")).exists():
        n += 1
    fd = os.open(saved, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, PRIVATE_FILE)
    with os.fdopen(fd, "wb") as out:
        out.write(tail)
        out.flush()
        os.fsync(out.fileno())
    with path.open("r+b") as fh:
        fh.truncate(cut)
        fh.flush()
        os.fsync(fh.fileno())
    return saved, len(tail), hashlib.sha256(tail).hexdigest()


def read_entries(path: Path) -> Iterator[dict[str, Any]]:
    with path.open("rb") as fh:
        for line in fh:
            if line.strip():
                yield orjson.loads(line)


def verify_chain(path: Path) -> list[str]:
    """Problems with the chain, first one first; empty when every link holds."""
    problems: list[str] = []
    prev = GENESIS
    expected_seq = 1
    try:
        with path.open("rb") as fh:
            for lineno, line in enumerate(fh, start=1):
                if not line.strip():
                    continue
                try:
                    entry = orjson.loads(line)
                except orjson.JSONDecodeError:
                    if line.endswith(b"\n"):
                        problems.append(f"line {lineno}: not valid JSON")
                    else:
                        problems.append(f"line {lineno}: truncated (crash while writing?)")
                    break
                if not isinstance(entry, dict):
                    problems.append(f"line {lineno}: not a journal entry (expected a JSON object)")
                    break
                if entry.get("prev") != prev:
                    problems.append(f"line {lineno}: previous-hash link broken (entry removed or reordered)")
                if entry.get("hash") != _digest(entry):
                    problems.append(f"line {lineno}: entry altered (hash mismatch)")
                if entry.get("seq") != expected_seq:
                    problems.append(f"line {lineno}: sequence {entry.get('seq')} where {expected_seq} was due")
                prev = str(entry.get("hash"))
                expected_seq += 1
    except OSError as exc:
        problems.append(f"cannot read journal: {exc.strerror}")
    return problems


# -- explaining a broken chain (irkit journal verify) ------------------------------------------


@dataclass(frozen=True, slots=True)
class ChainProblem:
    """One place where the chain breaks, and how: ``edited`` (content or hash changed after it was
    written), ``removed`` (entries missing before this line), ``inserted`` (a line the chain does not
    run through: a copy, a fabricated entry, or a second run writing at the same time), ``reordered``
    (a chained entry at the wrong place in the file), ``torn`` (the final line is incomplete: a crash
    while it was written) or ``damaged`` (a line that is not a journal entry at all)."""

    line: int
    problem: str
    detail: str
    seq: int | None = None
    kind: str | None = None

    def __str__(self) -> str:
        what = ", ".join(x for x in (self.kind and str(self.kind), self.seq is not None and f"seq {self.seq}") if x)
        return f"line {self.line}" + (f" ({what})" if what else "") + f": {self.problem}: {self.detail}"

    def to_json(self) -> dict[str, Any]:
        return {"line": self.line, "seq": self.seq, "kind": self.kind, "problem": self.problem, "detail": self.detail}


@dataclass(frozen=True, slots=True)
class ChainCheck:
    path: str
    lines: int
    entries: int
    problems: tuple[ChainProblem, ...] = ()
    notes: tuple[str, ...] = ()
    head_seq: int | None = None
    head_hash: str | None = None

    @property
    def intact(self) -> bool:
        return not self.problems

    def to_json(self, *, limit: int = 100) -> dict[str, Any]:
        return {
            "journal": self.path,
            "intact": self.intact,
            "lines": self.lines,
            "entries": self.entries,
            "head": {"seq": self.head_seq, "hash": self.head_hash},
            "problems": [p.to_json() for p in self.problems[:limit]],
            "problems_total": len(self.problems),
            "notes": list(self.notes[:limit]),
        }


@dataclass(eq=False)
class _Rec:
    line: int
    entry: dict[str, Any]
    self_ok: bool
    children: list[_Rec] = field(default_factory=list)

    @property
    def seq(self) -> int:
        return int(self.entry["seq"])

    @property
    def hash(self) -> str:
        return str(self.entry["hash"])

    @property
    def prev(self) -> str:
        return str(self.entry["prev"])

    @property
    def kind(self) -> str:
        # Named on a terminal: an edited journal must not be able to send escape sequences there.
        text = str(self.entry["kind"])
        safe = "".join(c if c.isprintable() else f"\\x{ord(c):02x}" for c in text[:80])
        return safe + ("…" if len(text) > 80 else "")


def _is_entry(entry: object) -> bool:
    return (
        isinstance(entry, dict)
        and isinstance(entry.get("seq"), int)
        and not isinstance(entry.get("seq"), bool)
        and isinstance(entry.get("hash"), str)
        and isinstance(entry.get("prev"), str)
        and isinstance(entry.get("kind"), str)
    )


def check_chain(path: Path) -> ChainCheck:
    """Every break in the journal's chain, each named by line, entry kind and what happened to it.

    The chain is rebuilt from the links themselves (each entry names its predecessor's hash), not from
    the file order: the longest run of links from the genesis is the record; entries no link runs
    through were inserted, gaps between runs were removed, links that hold but sit out of file order
    were reordered (the fewest moves that explain the order are named). What no chain can show: an
    entry appended after the last one with a correct link, or a cut at the end; compare the head
    (last seq and hash) with a copy kept elsewhere for that."""
    data = path.read_bytes()
    raw_lines = data.split(b"\n")
    problems: list[ChainProblem] = []
    notes: list[str] = []
    records: list[_Rec] = []
    for lineno, raw in enumerate(raw_lines, start=1):
        if not raw.strip():
            continue  # blank lines carry nothing (read_entries skips them too)
        final = lineno == len(raw_lines)  # only text after the last newline lands here
        try:
            entry = orjson.loads(raw)
        except orjson.JSONDecodeError:
            if final:
                problems.append(ChainProblem(lineno, "torn", "the final line is incomplete: a crash while it was"
                                             " written (`irkit resume` sets it aside and goes on)"))  # fmt: skip
            else:
                problems.append(ChainProblem(lineno, "damaged", "not valid JSON"))
            continue
        if not _is_entry(entry):
            problems.append(ChainProblem(lineno, "damaged", "not a journal entry (no seq, kind, prev and hash)"))
            continue
        if final:
            notes.append(f"line {lineno}: the final entry lost its newline (harmless: the next run adds it)")
        records.append(_Rec(lineno, entry, _digest(entry) == entry["hash"]))

    # Copies of a line are insertions; from here on every record has its own hash.
    by_hash: dict[str, _Rec] = {}
    live: list[_Rec] = []
    for rec in records:
        first = by_hash.get(rec.hash)
        if first is not None:
            problems.append(ChainProblem(rec.line, "inserted", f"a copy of line {first.line}", rec.seq, rec.kind))
            continue
        by_hash[rec.hash] = rec
        live.append(rec)
    for rec in live:
        if not rec.self_ok:
            problems.append(ChainProblem(rec.line, "edited", "its content no longer matches its hash (changed after"
                                         " it was written)", rec.seq, rec.kind))  # fmt: skip
        if rec.kind == "journal.repaired":
            saved = rec.entry.get("data", {}).get("saved_to") if isinstance(rec.entry.get("data"), dict) else None
            notes.append(f"line {rec.line}: a torn final line left by a crash was set aside as {saved}")

    # The links form a forest: a record's parent is the record whose hash it names.
    roots: list[_Rec] = []
    for rec in live:
        parent = by_hash.get(rec.prev)
        if parent is None or parent is rec:
            roots.append(rec)
        else:
            parent.children.append(rec)
    height = _heights(live)

    def branch(root: _Rec) -> list[_Rec]:
        """The longest run of links from root; every other child of a node on it was inserted."""
        run = [root]
        node = root
        while node.children:
            ranked = sorted(
                node.children, key=lambda c: (-height[id(c)], c.seq != node.seq + 1, not c.self_ok, c.line)
            )
            for other in ranked[1:]:
                more = height[id(other)] - 1
                problems.append(ChainProblem(
                    other.line, "inserted",
                    f"it and line {ranked[0].line} both follow line {node.line} (seq {node.seq}); the chain runs"
                    f" on through line {ranked[0].line}" + (f" (and {more} entries chained after it)" if more else "")
                    + ": a fabricated entry, or a second run writing at the same time", other.seq, other.kind,
                ))  # fmt: skip
            node = ranked[0]
            run.append(node)
        return run

    genesis = sorted((r for r in roots if r.prev == GENESIS), key=lambda r: (-height[id(r)], r.line))
    chain: list[_Rec] = branch(genesis[0]) if genesis else []
    for extra in genesis[1:]:
        problems.append(ChainProblem(extra.line, "inserted", f"a second first entry (line {genesis[0].line} starts"
                                     " the chain)", extra.seq, extra.kind))  # fmt: skip
    for root in sorted((r for r in roots if r.prev != GENESIS), key=lambda r: (r.seq, r.line)):
        run = branch(root)
        last = chain[-1] if chain else None
        last_seq = last.seq if last else 0
        if not root.self_ok:
            pass  # its own edit (already named) is what broke the link: its seq and prev prove nothing
        elif root.seq > last_seq + 1:
            missing = f"seq {last_seq + 1}" if root.seq == last_seq + 2 else f"seq {last_seq + 1}..{root.seq - 1}"
            count = root.seq - last_seq - 1
            what = "1 entry (" + missing + ") is" if count == 1 else f"{count} entries ({missing}) are"
            problems.append(ChainProblem(root.line, "removed", f"{what} missing before it: the entry it links to is"
                                         " on no line", root.seq, root.kind))  # fmt: skip
        elif root.seq == last_seq + 1 and last is not None:
            problems.append(ChainProblem(last.line, "edited", f"rewritten with a new hash after it was written: the"
                                         f" next entry (line {root.line}) links to a hash no line has", last.seq,
                                         last.kind))  # fmt: skip
        elif root.seq == last_seq + 1:
            problems.append(ChainProblem(root.line, "edited", "the first entry's previous-hash is not the genesis"
                                         " value", root.seq, root.kind))  # fmt: skip
        else:
            taken = next((r.line for r in chain if r.seq == root.seq), None)
            more = f" (and {len(run) - 1} entries chained after it)" if len(run) > 1 else ""
            where = f" is already taken by line {taken}" if taken else " is already taken"
            problems.append(ChainProblem(root.line, "inserted", f"its sequence number{where} and the entry it links"
                                         f" to is on no line{more}", root.seq, root.kind))  # fmt: skip
            continue
        chain.extend(run)
    in_chain = {id(r) for r in chain}
    for rec in live:  # links that close on themselves (A names B, B names A) reach no root
        if id(rec) not in in_chain and not any(p.line == rec.line for p in problems):
            problems.append(ChainProblem(rec.line, "inserted", "not linked to the chain", rec.seq, rec.kind))

    # Links that hold in an order the file does not keep: name the fewest lines that explain it.
    position = {id(r): i for i, r in enumerate(chain)}
    in_file = sorted(chain, key=lambda r: r.line)
    keep = _increasing(in_file, position)
    for i, rec in enumerate(chain):
        if id(rec) in keep:
            continue
        before = chain[i - 1] if i else None
        after = f"after line {before.line} (seq {before.seq})" if before else "first"
        problems.append(ChainProblem(rec.line, "reordered", f"it belongs {after}: its link holds but the line was"
                                     " moved", rec.seq, rec.kind))  # fmt: skip
    for parent, child in itertools.pairwise(chain):
        if child.self_ok and child.prev == parent.hash and child.seq != parent.seq + 1:
            problems.append(ChainProblem(child.line, "edited", f"sequence {child.seq} where {parent.seq + 1} was due",
                                         child.seq, child.kind))  # fmt: skip
    problems.sort(key=lambda p: p.line)
    head = chain[-1] if chain else None
    return ChainCheck(
        path=str(path),
        lines=len(raw_lines) - (1 if raw_lines and raw_lines[-1] == b"" else 0),
        entries=len(records),
        problems=tuple(problems),
        notes=tuple(notes),
        head_seq=head.seq if head else None,
        head_hash=head.hash if head else None,
    )


def _heights(records: list[_Rec]) -> dict[int, int]:
    """Length of the longest run of links down from each record (iterative: chains are long)."""
    height: dict[int, int] = {}
    visiting: set[int] = set()
    for start in records:
        stack: list[tuple[_Rec, bool]] = [(start, False)]
        while stack:
            node, expanded = stack.pop()
            if expanded:
                height[id(node)] = 1 + max((height.get(id(c), 0) for c in node.children), default=0)
                continue
            if id(node) in height or id(node) in visiting:
                continue  # done already, or on the walk now (a loop of links): no endless walk
            visiting.add(id(node))
            stack.append((node, True))
            stack.extend((c, False) for c in node.children if id(c) not in height and id(c) not in visiting)
    return height


def _increasing(in_file: list[_Rec], position: dict[int, int]) -> set[int]:
    """ids of a longest subsequence of ``in_file`` whose chain positions increase (O(n log n))."""
    from bisect import bisect_left

    tails: list[int] = []  # chain position at the end of the best run of each length
    tail_index: list[int] = []
    back: list[int] = [-1] * len(in_file)
    for i, rec in enumerate(in_file):
        pos = position[id(rec)]
        k = bisect_left(tails, pos)
        if k == len(tails):
            tails.append(pos)
            tail_index.append(i)
        else:
            tails[k] = pos
            tail_index[k] = i
        back[i] = tail_index[k - 1] if k else -1
    keep: set[int] = set()
    i = tail_index[-1] if tail_index else -1
    while i >= 0:
        keep.add(id(in_file[i]))
        i = back[i]
    return keep
