"""Stream CloudTrail records from files: one file at a time, never an archive whole.

Accepts ``*.json`` / ``*.json.gz`` (``{"Records": [...]}``) and ``*.jsonl`` / ``*.jsonl.gz`` (one record
a line). A file or record that cannot be read becomes a :class:`Gap`; reading goes on.

The input is hostile (anyone who can write to the archive writes some of it), so every cost is
bounded: a file is inflated by :func:`irkit.cloudtrail.inflate.read_log` (every gzip member, as the
digest verifier hashes it; at most ``MAX_DECOMPRESSED`` bytes and ``MAX_JSON_VALUES`` values), a
file names at most :data:`MAX_NAMED_PER_FILE` bad records and counts the rest in one gap, and a
file below a folder that a symlink leads outside it is refused, not read.

Speed: with many files, decompression runs in worker processes (bounded read-ahead, results
consumed in file order, so output is deterministic and memory flat) while this process decodes
(``lazy``: msgspec, straight into typed events, :mod:`irkit.cloudtrail.typed`; otherwise orjson and
a dict-specialised copy of :meth:`Event.from_record`, which a test holds equal to it), with the
cyclic GC paused per file. See docs/performance.md for the numbers and what is left on the table.
"""

from __future__ import annotations

import contextlib
import gc
import os
import subprocess
import sys
import zlib
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePath
from typing import Any, cast

import orjson

from irkit.cloudtrail import inflate, typed
from irkit.cloudtrail.inflate import TooManyValues, read_log, refusal_text
from irkit.cloudtrail.keys import inside
from irkit.cloudtrail.manifest import MANIFEST_NAME
from irkit.cloudtrail.worker import cores
from irkit.detect.event import Event, MalformedRecord, parse_time
from irkit.gaps import Gap

LOG_SUFFIXES = (".json", ".json.gz", ".jsonl", ".jsonl.gz")
DIGEST_DIR = "CloudTrail-Digest"
# Files irkit itself writes beside evidence; they are not logs and not gaps.
IRKIT_FILES = frozenset({MANIFEST_NAME, "findings.json", "report.json", "case.json", "baseline.json"})
SIDECAR_SUFFIX = ".meta.json"
# Below this many files a worker pool costs more (process start) than it saves.
PARALLEL_MIN_FILES = 64
READ_AHEAD = 4  # decompressed files in flight per worker: bounds memory
MAX_NAMED_PER_FILE = 10
"""Bad records (or lines) of one file named as gaps; the rest are counted in one more gap. A crafted
6 KB file holds two million ``{}`` records: one gap each was 362 MB of JSON."""
MAX_MALFORMED_PER_FILE = 1000
"""After this many malformed records a file is read no further (its remaining records are counted in
a gap): CloudTrail writes none, and each costs as much time as a real event, so a few 6 KB files of
``{}`` would otherwise hold the analysis for minutes."""


@dataclass(slots=True)
class ReadStats:
    files: int = 0
    events: int = 0
    gaps: list[Gap] = field(default_factory=list)


def is_log_path(path: PurePath) -> bool:
    name = path.name
    return (
        name.endswith(LOG_SUFFIXES)
        and not name.endswith(SIDECAR_SUFFIX)
        and DIGEST_DIR not in path.parts
        and name not in IRKIT_FILES
    )


SYMLINK_OUTSIDE = "refused: a symlink that leads outside the folder; not read"


def iter_log_files(root: Path, *, refused: list[Gap] | None = None) -> Iterator[Path]:
    """Every log file under ``root`` (or ``root`` itself), in a stable order: the order of the paths
    sorted, each folder's entries by name, depth first.

    A file whose path, symlinks resolved, leaves ``root`` is not yielded: it goes to ``refused`` as a
    gap when a list is given (a link planted in an evidence folder must not make irkit read, as
    evidence, a file from anywhere else); so does a folder that cannot be listed."""
    if root.is_file():
        yield root
        return
    yield from _walk(root, root, refused)


def _walk(root: Path, folder: Path, refused: list[Gap] | None) -> Iterator[Path]:
    # A link to a folder is not followed, so every folder walked lies, links resolved, in ``root``
    # (``root`` itself may be a link): only a file that is itself a link is resolved. A digest
    # folder holds no log file; it is not walked. (One scandir a folder, sorted by name: 400 files,
    # 19 -> ~5 ms; it was pathlib's rglob, sorted, and a resolve of every file's folder.)
    try:
        with os.scandir(folder) as listing:
            entries = sorted(listing, key=lambda entry: entry.name)
    except OSError as exc:
        if refused is not None:
            refused.append(Gap(str(folder), f"folder not listed: {exc.strerror or type(exc).__name__}"))
        return
    for entry in entries:
        path = folder / entry.name
        try:
            if entry.is_dir(follow_symlinks=False):
                if entry.name != DIGEST_DIR:
                    yield from _walk(root, path, refused)
                continue
            if not is_log_path(path):
                continue
            if entry.is_file(follow_symlinks=False):
                yield path
                continue
            if not (entry.is_symlink() and path.is_file()):
                continue
        except OSError:
            continue
        if inside(root, path):
            yield path
        elif refused is not None:
            refused.append(Gap(str(path), SYMLINK_OUTSIDE))


def _inflate(path: str) -> tuple[bytes | bytearray | None, str | None]:
    """The file's bytes ready to parse, or why not (the worker answers with the same text)."""
    try:
        return read_log(path), None
    except (OSError, zlib.error, TooManyValues, MemoryError) as exc:
        return None, refusal_text(exc)


class _FileGaps:
    """One file's gaps of one kind: the first :data:`MAX_NAMED_PER_FILE` named, the rest counted."""

    def __init__(self, path: Path, what: str) -> None:
        self.path = path
        self.what = what
        self.gaps: list[Gap] = []
        self.more = 0

    def add(self, where: str, reason: str) -> None:
        if len(self.gaps) < MAX_NAMED_PER_FILE:
            self.gaps.append(Gap(where, reason))
        else:
            self.more += 1

    def done(self) -> list[Gap]:
        if self.more:
            self.gaps.append(Gap(str(self.path), f"{self.what}: {self.more} more in this file, not listed"))
        return self.gaps


def parse_records(path: Path, data: bytes | bytearray) -> tuple[list[Any], list[Gap]]:
    """Records of one file's (decompressed) bytes."""
    name = path.name.removesuffix(".gz")
    if name.endswith(".jsonl"):
        records: list[Any] = []
        bad = _FileGaps(path, "lines that are not valid JSON")
        lines = cast("list[bytes]", data.splitlines())  # bytearray lines parse the same
        for lineno, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                records.append(orjson.loads(line))
            except orjson.JSONDecodeError:
                bad.add(f"{path}:{lineno}", "line is not valid JSON")
        return records, bad.done()
    return _parse_document(path, data)


def _parse_document(path: Path, data: bytes | bytearray | memoryview) -> tuple[list[Any], list[Gap]]:
    try:
        doc = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        return [], [Gap(str(path), f"not valid JSON ({exc})")]
    if isinstance(doc, dict) and isinstance(doc.get("Records"), list):
        return doc["Records"], []
    if isinstance(doc, dict) and "digestStartTime" in doc:
        return [], []  # a digest file outside the usual folder: not a log, not a gap
    return [], [Gap(str(path), 'not a CloudTrail log file (no "Records" array)')]


# -- events ----------------------------------------------------------------------------------------

_EMPTY: dict[str, Any] = {}


def _time(value: str, _iso: Callable[[str], datetime] = datetime.fromisoformat) -> datetime:
    try:
        parsed = _iso(value)  # 3.11 reads the trailing "Z" itself
    except ValueError:
        return parse_time(value)  # raises MalformedRecord with the usual message
    if parsed.tzinfo is UTC:
        return parsed
    return parse_time(value)


def event_from_record(record: Any) -> Event:
    """:meth:`Event.from_record` for the plain dicts orjson yields, without its ABC checks.

    Anything that is not the common shape goes to ``from_record`` itself, so behaviour (and
    errors) are the same; ``tests/cloudtrail/test_reader.py`` holds the two equal.
    """
    if type(record) is not dict:
        return Event.from_record(record)
    name = record.get("eventName")
    when = record.get("eventTime")
    identity = record.get("userIdentity")
    if type(name) is not str or type(when) is not str or not (identity is None or type(identity) is dict):
        return Event.from_record(record)
    if identity is None:
        identity = _EMPTY
    ctx = identity.get("sessionContext")
    issuer = ctx.get("sessionIssuer") if type(ctx) is dict else None
    issuer_arn = issuer.get("arn") if type(issuer) is dict else None
    request = record.get("requestParameters")
    response = record.get("responseElements")
    read_only = record.get("readOnly")
    error = record.get("errorCode")
    return Event(
        _s(record.get("eventID")), _time(when), _s(record.get("eventSource")), name,
        _s(record.get("awsRegion")), _s(record.get("sourceIPAddress")), _s(record.get("userAgent")),
        str(error) if error else None, _s(identity.get("type")), _s(identity.get("arn")),
        str(issuer_arn) if issuer_arn else None, _s(identity.get("accessKeyId")),
        _s(identity.get("accountId") or record.get("recipientAccountId")),
        read_only if type(read_only) is bool else None,
        request if type(request) is dict else _EMPTY, response if type(response) is dict else _EMPTY, record,
    )  # fmt: skip


def _s(value: Any) -> str:
    # from_record does str(value or ""): the same, minus a call for the usual non-empty str
    return value if type(value) is str else str(value or "")


# -- the stream ------------------------------------------------------------------------------------


# The worker is a plain stdlib script (no irkit import, no multiprocessing): spawn would re-run
# an unguarded caller's __main__, fork would copy a caller's threads mid-lock, and threads lose
# to the GIL (measured: slower than one thread). Its script is the source of irkit.cloudtrail.inflate
# (stdlib only) and this loop, so it loads each file with the very read_log this process uses, under
# the same caps (argv). It is sent each path hex-encoded (a newline in a file name cannot split a
# request), inflates it into a file in shared memory and answers with that file's name; this process
# reads it (one copy, into the bytes the typed decode keeps views into) and removes it.
_WORKER_LOOP = r"""
import sys, tempfile
shm, limit, max_values = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
for line in sys.stdin:
    try:
        path = os.fsdecode(bytes.fromhex(line.strip()))
        data = read_log(path, limit=limit, max_values=max_values)
        fd, name = tempfile.mkstemp(prefix="irkit-inflate-", dir=shm)
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        del data
        reply = "OK " + name
    except BaseException as exc:  # an answer for every request, whatever happened
        reply = "ERR " + refusal_text(exc)
    sys.stdout.write(reply.replace("\n", " ") + "\n")
    sys.stdout.flush()
"""
try:
    _WORKER = Path(inflate.__file__).read_text(encoding="utf-8") + _WORKER_LOOP
except OSError:  # no source on disk (a zipped install): every file is inflated in this process
    _WORKER = ""
SHARED_MEMORY = Path("/dev/shm")  # noqa: S108 - files are made by mkstemp (0600, unique names)


class _Worker:
    def __init__(self, shm: Path) -> None:
        caps = [str(inflate.MAX_DECOMPRESSED), str(inflate.MAX_JSON_VALUES)]
        self.proc = subprocess.Popen(
            [sys.executable, "-I", "-c", _WORKER, str(shm), *caps],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            bufsize=1,
        )

    def send(self, path: Path) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(os.fsencode(path).hex() + "\n")
        self.proc.stdin.flush()

    def receive(self) -> tuple[bytes | None, str | None]:
        assert self.proc.stdout is not None
        reply = self.proc.stdout.readline().rstrip("\n")
        if reply.startswith("ERR "):
            return None, reply[4:]
        if not reply.startswith("OK "):
            raise OSError("inflate worker stopped")
        name = reply[3:]
        try:
            return Path(name).read_bytes(), None
        finally:
            Path(name).unlink()

    def close(self) -> None:
        if self.proc.stdin is not None and not self.proc.stdin.closed:
            with contextlib.suppress(OSError):  # a dead worker's pipe
                self.proc.stdin.close()
        # unread replies name files in shared memory: drain and remove them
        if self.proc.stdout is not None:
            for line in self.proc.stdout:
                if line.startswith("OK "):
                    Path(line[3:].rstrip("\n")).unlink(missing_ok=True)
        self.proc.wait(timeout=10)


def _inflated(
    files: list[Path], workers: int
) -> Iterator[tuple[Path, bytes | bytearray | None, str | None]]:
    """(path, decompressed bytes or None, error) in file order; in worker processes when it pays.

    A worker that cannot start or dies mid-way costs speed, never data: the files not yet
    handed out are inflated here instead."""
    shm_ok = SHARED_MEMORY.is_dir() and os.access(SHARED_MEMORY, os.W_OK)
    done = 0
    if _WORKER and workers >= 1 and len(files) >= PARALLEL_MIN_FILES and shm_ok:
        pool: list[_Worker] = []
        try:
            pool.extend(_Worker(SHARED_MEMORY) for _ in range(workers))
            pending: deque[_Worker] = deque()
            sent = 0
            while done < len(files):
                while sent < len(files) and len(pending) < workers * READ_AHEAD:
                    worker = pool[sent % workers]
                    worker.send(files[sent])
                    pending.append(worker)
                    sent += 1
                data, error = pending.popleft().receive()
                done += 1
                yield files[done - 1], data, error
        except OSError:
            pass  # fall through: the rest is inflated in this process
        finally:
            for worker in pool:
                worker.close()
    for path in files[done:]:
        inflated, error = _inflate(str(path))
        yield path, inflated, error


def default_workers() -> int:
    """Processes for decompression (0: inflate in this process): the cores this process may use,
    less the one that parses."""
    return max(0, min(cores() - 1, 4))


def log_files(paths: Iterable[Path], stats: ReadStats) -> list[Path]:
    """Every log file under each path, in reading order; a path that is missing or holds no log
    file is a gap in ``stats`` (a wrong folder must not read as "no findings")."""
    files: list[Path] = []
    for root in paths:
        if not root.exists():
            stats.gaps.append(Gap(str(root), "path does not exist"))
            continue
        found = list(iter_log_files(root, refused=stats.gaps))
        if not found:
            reason = "no CloudTrail log files (*.json, *.json.gz, *.jsonl, *.jsonl.gz) below it"
            stats.gaps.append(Gap(str(root), reason))
        files.extend(found)
    return files


def iter_events(
    paths: Iterable[Path], stats: ReadStats, *, workers: int | None = None, lazy: bool = False
) -> Iterator[Event]:
    """Events from every log file under each path; counts and gaps accumulate in ``stats``.

    ``lazy``: ``{"Records": [...]}`` documents are read by the typed decoder (:mod:`irkit.cloudtrail.typed`):
    the events' ``request``, ``response`` and ``raw`` are decoded on first access, and ``raw`` is a
    read-only mapping rather than a ``dict``. For a consumer that handles each event as it comes
    (the analysis pass); same events, same gaps."""
    return iter_file_events(log_files(paths, stats), stats, workers=workers, lazy=lazy)


def iter_file_events(
    files: list[Path], stats: ReadStats, *, workers: int | None = None, lazy: bool = False
) -> Iterator[Event]:
    """:func:`iter_events` over files already listed (by :func:`log_files`), in their order."""
    for events in iter_file_batches(files, stats, workers=workers, lazy=lazy):
        yield from events


def iter_file_batches(
    files: list[Path], stats: ReadStats, *, workers: int | None = None, lazy: bool = False
) -> Iterator[list[Event]]:
    """:func:`iter_file_events` a file at a time: each readable file's events, in order (a file
    with none gives an empty list)."""
    for path, data, error in _inflated(files, default_workers() if workers is None else workers):
        stats.files += 1
        if data is None:
            stats.gaps.append(Gap(str(path), error or "unreadable"))
            continue
        events = _file_events(path, data, stats, lazy=lazy)
        del data
        yield events
        del events


def _records(path: Path, data: bytes | bytearray, typed_document: bool) -> tuple[list[Any], list[Gap], bool]:
    """The file's records (dicts; or, typed, each record's JSON bytes), its gaps, and whether typed."""
    if typed_document:
        raw = typed.document_records(data)
        if raw is not None:
            return raw, [], True
    records, gaps = parse_records(path, data)
    return records, gaps, False


def _utc(when: datetime) -> datetime:
    """An ``eventTime`` read with an offset (or none), in UTC, as :func:`parse_time` reads it."""
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def _typed_event(data: bytes) -> Event:
    event = typed.typed_event(data, _utc)
    if event is not None:
        return event
    try:  # off the schema: the tolerant path decides (an event, or MalformedRecord)
        record = typed.decode_any(data)
    except (ValueError, RecursionError):
        raise MalformedRecord("record is not valid JSON") from None
    return event_from_record(record)


def _file_events(path: Path, data: bytes | bytearray, stats: ReadStats, *, lazy: bool = False) -> list[Event]:
    """One file's events, built with the cyclic GC paused: records and events form no cycles, and
    the collector would otherwise walk the file's ~40 objects a record over and over (≈15 % of
    reading time). Paused only here, never while the caller runs between events."""
    paused = gc.isenabled()
    if paused:
        gc.disable()
    try:
        typed_document = lazy and not path.name.removesuffix(".gz").endswith(".jsonl")
        if typed_document and type(data) is bytes:
            whole = typed.typed_document(data, _utc)  # every record fits the schema: one decode
            if whole is not None:
                stats.events += len(whole)
                return whole
        records, gaps, is_typed = _records(path, data, typed_document)
        stats.gaps.extend(gaps)
        events: list[Event] = []
        bad = _FileGaps(path, "malformed records")
        unread = 0
        build = _typed_event if is_typed else event_from_record
        for index, record in enumerate(records):
            try:
                events.append(build(record))
            except MalformedRecord as exc:
                bad.add(f"{path}#{index}", f"malformed record: {exc}")
                if len(bad.gaps) + bad.more >= MAX_MALFORMED_PER_FILE:
                    unread = len(records) - index - 1
                    break
        del records
        stats.gaps.extend(bad.done())
        if unread:
            reason = f"not read: {unread} records after {MAX_MALFORMED_PER_FILE} malformed ones (not a CloudTrail log)"
            stats.gaps.append(Gap(str(path), reason))
        stats.events += len(events)
        return events
    finally:
        if paused:
            gc.enable()
