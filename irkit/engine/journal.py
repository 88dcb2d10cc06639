"""An append-only JSONL journal whose entries are hash-chained.

Each entry carries the previous entry's hash and its own (SHA-256 over the canonical JSON of the
entry without ``hash``), so a removed, reordered or edited line breaks the chain and
:func:`verify_chain` names the first broken entry. Entries are flushed and fsynced before the call
returns: an action is on disk before it is attempted, and its outcome before the next one starts.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from irkit.errors import CaseError
from irkit.redact import redact

GENESIS = "0" * 64


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
                    " with `irkit contain AGENT`"
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
            with self.path.open("ab") as fh:
                fh.write(line)
                fh.flush()
                os.fsync(fh.fileno())
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
    saved.write_bytes(tail)
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
