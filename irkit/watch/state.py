"""What a watcher remembers between passes, in ``--state DIR`` (0700, files 0600, atomic writes).

- ``state.json``: per archive prefix the listing cursor and the keys already read; per account the
  newest delivery seen; every finding already reported (never paged twice); the pages not yet
  delivered (without the routing key: it is a secret and stays in the environment); the bursts
  paged lately (rule and principal: the page's dedup key, first and last time), so a burst that
  carries on into the next pass is paged under the same key; the telemetry episodes already paged;
  the containment case, once one was opened.
- ``window.jsonl``: the recent events (raw CloudTrail records, one a line) that the next pass
  analyses again with the new ones, so a sequence split over two deliveries is still one finding.

A write goes to a temporary file in the folder, is flushed to disk and renamed over the old file: a
crash leaves the previous pass's state whole, never half a file. A state folder is used by one watcher
at a time (an exclusive lock held for each pass).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from irkit.core.lock import CaseLock, CaseLocked
from irkit.detect.event import format_time, parse_time
from irkit.errors import UsageError

STATE_FORMAT = "irkit.watch-state/1"
STATE_FILE = "state.json"
WINDOW_FILE = "window.jsonl"
PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600
MAX_REPORTED = 20_000
"""Findings remembered as reported; the oldest are forgotten beyond this (bounded state)."""
MAX_BURSTS = 1_000
"""Bursts remembered as paged (the latest kept): enough for every rule and principal of a pass."""
MAX_IDS_KEPT = 200
"""Event ids kept per reported finding: enough to recognise the same finding when its first event
changes (an earlier event delivered late, the window moving on)."""


class StateError(UsageError):
    """The state folder cannot be used (another watcher holds it, a file is not ours, not writable)."""


def write_atomic(path: Path, data: bytes) -> None:
    """``data`` at ``path``, all or nothing: a private temporary file, fsync, rename."""
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, PRIVATE_FILE)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        tmp.replace(path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    with contextlib.suppress(OSError):  # the rename is durable once the folder is
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def prepare_dir(root: Path) -> None:
    try:
        root.mkdir(parents=True, exist_ok=True, mode=PRIVATE_DIR)
        root.chmod(PRIVATE_DIR)
    except OSError as exc:
        raise StateError(f"--state {root}: cannot create or use the folder: {exc.strerror}") from None


@dataclass
class WatchState:
    root: Path
    agent: str
    cursors: dict[str, dict[str, Any]] = field(default_factory=dict)
    newest: dict[str, str] = field(default_factory=dict)
    reported: list[dict[str, Any]] = field(default_factory=list)
    outbox: list[dict[str, Any]] = field(default_factory=list)
    telemetry: dict[str, str] = field(default_factory=dict)
    """Telemetry episode (a trail stop, a silence) → the dedup key it was reported under."""
    trails: list[str] = field(default_factory=list)
    """Trails seen logging before: one that disappears is a finding too."""
    bursts: dict[str, dict[str, str]] = field(default_factory=dict)
    """Rule and principal (a digest of them) → the burst last paged for them: its page's dedup key,
    first and last time."""
    contained: dict[str, Any] | None = None
    passes: int = 0

    # -- files -----------------------------------------------------------------------------------

    @classmethod
    def load(cls, root: Path, agent: str) -> WatchState:
        prepare_dir(root)
        path = root / STATE_FILE
        if not path.exists():
            return cls(root, agent)
        try:
            doc = orjson.loads(path.read_bytes())
        except (OSError, orjson.JSONDecodeError) as exc:
            raise StateError(f"{path}: not a watch state file ({exc}); move it away to start afresh") from None
        if not isinstance(doc, dict) or doc.get("format") != STATE_FORMAT:
            raise StateError(f"{path}: not an irkit watch state ({STATE_FORMAT}); move it away to start afresh")
        if doc.get("agent") != agent:
            raise StateError(
                f"{path}: this state folder watches agent {doc.get('agent')!r}, not {agent!r}: one folder an agent"
            )
        return cls(
            root,
            agent,
            cursors=dict(doc.get("cursors") or {}),
            newest=dict(doc.get("newest") or {}),
            reported=list(doc.get("reported") or []),
            outbox=list(doc.get("outbox") or []),
            telemetry=dict(doc.get("telemetry") or {}),
            trails=list(doc.get("trails") or []),
            bursts=_bursts(doc.get("bursts")),
            contained=doc.get("contained"),
            passes=int(doc.get("passes") or 0),
        )

    def save(self) -> None:
        self.reported = self.reported[-MAX_REPORTED:]
        doc = {
            "format": STATE_FORMAT,
            "agent": self.agent,
            "passes": self.passes,
            "cursors": self.cursors,
            "newest": self.newest,
            "reported": self.reported,
            "outbox": self.outbox,
            "telemetry": self.telemetry,
            "trails": self.trails,
            "bursts": self.bursts,
            "contained": self.contained,
        }
        write_atomic(self.root / STATE_FILE, orjson.dumps(doc, option=orjson.OPT_INDENT_2))

    def load_window(self) -> list[dict[str, Any]]:
        path = self.root / WINDOW_FILE
        if not path.exists():
            return []
        records: list[dict[str, Any]] = []
        for line in path.read_bytes().splitlines():
            try:
                record = orjson.loads(line)
            except orjson.JSONDecodeError:
                continue  # a torn line cannot happen (atomic writes); anything else is not ours
            if isinstance(record, dict):
                records.append(record)
        return records

    def save_window(self, records: Iterable[Mapping[str, Any]]) -> None:
        data = b"".join(orjson.dumps(dict(r)) + b"\n" for r in records)
        write_atomic(self.root / WINDOW_FILE, data)

    # -- findings --------------------------------------------------------------------------------

    def known(self, key: str, rule_id: str, principal: str, detail: str, ids: Iterable[str]) -> bool:
        """Was this finding reported before: the same dedup key, or the same rule, principal and
        detail over events that overlap (its first event changed, the finding did not)."""
        wanted = set(ids)
        for entry in self.reported:
            if entry.get("key") == key:
                return True
            if (
                wanted
                and entry.get("rule_id") == rule_id
                and entry.get("principal") == principal
                and entry.get("detail", "") == detail
                and wanted.intersection(entry.get("ids") or ())
            ):
                return True
        return False

    def remember(self, key: str, rule_id: str, principal: str, detail: str, ids: Iterable[str], at: str) -> None:
        self.reported.append(
            {
                "key": key,
                "rule_id": rule_id,
                "principal": principal,
                "detail": detail,
                "ids": list(ids)[:MAX_IDS_KEPT],
                "at": at,
            }
        )

    # -- bursts paged ----------------------------------------------------------------------------

    def burst(
        self, rule_id: str, principal: str, first: datetime, last: datetime, gap: timedelta
    ) -> dict[str, str] | None:
        """The burst paged before for this rule and principal that the findings from ``first`` to
        ``last`` carry on (they start at most ``gap`` after its last time and end at most ``gap``
        before its first), or None."""
        entry = self.bursts.get(_burst_id(rule_id, principal))  # its times checked when loaded
        if entry is None:
            return None
        carries_on = first - parse_time(entry["last"]) <= gap and parse_time(entry["first"]) - last <= gap
        return entry if carries_on else None

    def remember_burst(self, rule_id: str, principal: str, key: str, first: datetime, last: datetime) -> None:
        """Remember a burst paged under ``key``; carrying on an earlier one widens its times."""
        ident = _burst_id(rule_id, principal)
        entry = self.bursts.pop(ident, None)
        if entry is not None and entry.get("key") == key:
            first = min(first, parse_time(entry["first"]))
            last = max(last, parse_time(entry["last"]))
        self.bursts[ident] = {"key": key, "first": format_time(first), "last": format_time(last)}  # the latest last
        while len(self.bursts) > MAX_BURSTS:
            del self.bursts[next(iter(self.bursts))]

    def forget_bursts(self, before: datetime) -> None:
        """Forget the bursts whose last finding is older than ``before``: nothing can carry them on."""
        self.bursts = {k: v for k, v in self.bursts.items() if parse_time(v["last"]) >= before}


def _burst_id(rule_id: str, principal: str) -> str:
    """The state's key of a rule and principal: a digest, so a principal as long as a planted record
    makes it costs the state 32 characters, whatever its length."""
    return hashlib.sha256(f"{rule_id}\x1f{principal}".encode(errors="surrogatepass")).hexdigest()[:32]


def _bursts(value: object) -> dict[str, dict[str, str]]:
    """The ``bursts`` of a state file: the entries this irkit writes (anything else is dropped: a
    burst forgotten only pages it under a key of its own)."""
    if not isinstance(value, dict):
        return {}
    return {k: v for k, v in value.items() if isinstance(k, str) and _burst_entry(v)}


def _burst_entry(value: object) -> bool:
    """A ``bursts`` entry as this irkit writes it (anything else in the file is dropped)."""
    if not isinstance(value, dict) or not all(isinstance(value.get(k), str) for k in ("key", "first", "last")):
        return False
    try:
        parse_time(value["first"]), parse_time(value["last"])
    except ValueError:
        return False
    return True


@contextlib.contextmanager
def locked(root: Path, command: str) -> Iterator[None]:
    """Hold the state folder for one pass; another watcher on it is refused (exit 2), naming it."""
    prepare_dir(root)
    try:
        lock = CaseLock.acquire(root, command)
    except CaseLocked as exc:
        who = exc.holder.describe() if exc.holder else "another process"
        raise StateError(f"--state {root} is in use by {who}: one watcher a state folder") from None
    try:
        yield
    finally:
        lock.release()
