"""Stream CloudTrail records from files: one file at a time, never an archive whole.

Accepts ``*.json`` / ``*.json.gz`` (``{"Records": [...]}``) and ``*.jsonl`` / ``*.jsonl.gz`` (one record
a line). A file or record that cannot be read becomes a :class:`Gap`; reading goes on.
"""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from irkit.detect.event import Event, MalformedRecord
from irkit.gaps import Gap

LOG_SUFFIXES = (".json", ".json.gz", ".jsonl", ".jsonl.gz")
DIGEST_DIR = "CloudTrail-Digest"
# Files irkit itself writes beside evidence; they are not logs and not gaps.
IRKIT_FILES = frozenset({"manifest.json", "findings.json", "report.json", "case.json", "baseline.json"})


@dataclass(slots=True)
class ReadStats:
    files: int = 0
    events: int = 0
    gaps: list[Gap] = field(default_factory=list)


def is_log_path(path: Path) -> bool:
    name = path.name
    return name.endswith(LOG_SUFFIXES) and DIGEST_DIR not in path.parts and name not in IRKIT_FILES


def iter_log_files(root: Path) -> Iterator[Path]:
    """Every log file under ``root`` (or ``root`` itself), in a stable order."""
    if root.is_file():
        yield root
        return
    for path in sorted(root.rglob("*")):
        if path.is_file() and is_log_path(path):
            yield path


def _open_bytes(path: Path) -> bytes:
    raw = path.read_bytes()
    if path.name.endswith(".gz"):
        return gzip.decompress(raw)
    return raw


def read_file_records(path: Path) -> tuple[list[Any], list[Gap]]:
    """All records of one file (one file is small; an archive is what we never hold whole)."""
    gaps: list[Gap] = []
    try:
        data = _open_bytes(path)
    except (OSError, EOFError, zlib.error, gzip.BadGzipFile) as exc:
        return [], [Gap(str(path), f"unreadable: {exc}")]
    name = path.name.removesuffix(".gz")
    if name.endswith(".jsonl"):
        records: list[Any] = []
        for lineno, line in enumerate(data.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                records.append(orjson.loads(line))
            except orjson.JSONDecodeError:
                gaps.append(Gap(f"{path}:{lineno}", "line is not valid JSON"))
        return records, gaps
    try:
        doc = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        return [], [Gap(str(path), f"not valid JSON ({exc})")]
    if isinstance(doc, dict) and isinstance(doc.get("Records"), list):
        return doc["Records"], gaps
    if isinstance(doc, dict) and "digestStartTime" in doc:
        return [], gaps  # a digest file outside the usual folder: not a log, not a gap
    return [], [Gap(str(path), 'not a CloudTrail log file (no "Records" array)')]


def iter_events(paths: Iterable[Path], stats: ReadStats) -> Iterator[Event]:
    """Events from every log file under each path; counts and gaps accumulate in ``stats``."""
    for root in paths:
        if not root.exists():
            stats.gaps.append(Gap(str(root), "path does not exist"))
            continue
        for path in iter_log_files(root):
            stats.files += 1
            records, gaps = read_file_records(path)
            stats.gaps.extend(gaps)
            for index, record in enumerate(records):
                try:
                    event = Event.from_record(record)
                except MalformedRecord as exc:
                    stats.gaps.append(Gap(f"{path}#{index}", f"malformed record: {exc}"))
                    continue
                stats.events += 1
                yield event
