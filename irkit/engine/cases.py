"""What each case folder under ``--out`` is, read without touching it (``irkit cases``).

A listing must never change a case: the journal is read as bytes (a torn last line is skipped, not
set aside: only a run that holds the case repairs it), no lock is taken, and a folder that is not a
case or whose ``case.json`` is damaged is listed as such instead of stopping the listing.

Status, from the journal and the lock note:

- ``running``: a process holds the case lock now;
- ``interrupted``: Ctrl-C/SIGTERM (``run.interrupted``), or a run that died (a lock note left, or a
  run that started and never ended);
- ``awaiting approval``: a step waits for ``irkit resume CASE --approve STEP``;
- ``failed``, ``containment incomplete``, ``done with gaps``, ``done``: how the last run ended;
- ``damaged``: the folder cannot be read as a case.
"""

from __future__ import annotations

import errno
import fcntl
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from irkit.engine.runbook import read_runbook_file
from irkit.errors import CaseError, IrkitError

LOCK_FILE = "case.lock"
_CASE_ID = re.compile(r"^(?!\.{1,2}$)[A-Za-z0-9._-]{1,128}$")
_TERMINAL = frozenset({"step.done", "step.failed", "step.interrupted"})
MAX_CASES = 10_000
"""A folder with more entries than this is listed up to it (and says so)."""


@dataclass(frozen=True, slots=True)
class CaseSummary:
    case_id: str
    root: Path
    agent: str = ""
    created: str = ""
    window: tuple[str, str] = ("", "")
    dry_run: bool = False
    status: str = ""
    pending: tuple[str, ...] = ()
    """Runbook steps not (successfully) done yet, in runbook order."""
    awaiting: str | None = None
    exit_code: int | None = None
    problem: str = ""
    resume: str = ""
    """The command that continues the case, when something is pending."""

    def to_json(self) -> dict[str, Any]:
        return {
            "case": self.case_id,
            "case_dir": str(self.root),
            "agent": self.agent,
            "created": self.created,
            "window": list(self.window),
            "dry_run": self.dry_run,
            "status": self.status,
            "pending": list(self.pending),
            "awaiting_approval": self.awaiting,
            "exit_code": self.exit_code,
            "problem": self.problem,
            "resume": self.resume,
        }


@dataclass
class _Journal:
    entries: list[dict[str, Any]] = field(default_factory=list)
    torn: bool = False


def _read_journal(path: Path) -> _Journal:
    out = _Journal()
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return out
    for line in data.splitlines():
        if not line.strip():
            continue
        try:
            entry = orjson.loads(line)
        except orjson.JSONDecodeError:
            out.torn = True
            continue
        if isinstance(entry, dict) and isinstance(entry.get("data"), dict):
            out.entries.append(entry)
    return out


def _lock_state(root: Path) -> str:
    """``running``, ``died`` (a holder's note is left, nobody holds it) or ``free``."""
    path = root / LOCK_FILE
    try:
        note = path.read_bytes()
    except OSError:
        return "free"
    if not note.strip():
        return "free"
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW)
    except OSError:
        return "died"
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError as exc:
        return "running" if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN) else "died"
    finally:
        os.close(fd)  # (closing releases the shared lock at once)
    return "died"


def summarise(root: Path) -> CaseSummary:
    """One case folder's summary; never raises for a damaged folder (its status says so)."""
    case_id = root.name
    try:
        meta = orjson.loads((root / "case.json").read_bytes())
        if not isinstance(meta, dict):
            raise ValueError("not a JSON object")
    except (OSError, ValueError) as exc:
        return CaseSummary(case_id, root, status="damaged", problem=f"case.json: {exc}")
    journal = _read_journal(root / "journal.jsonl")
    entries = journal.entries
    steps: list[str] = []
    problem = "journal.jsonl ends in a torn line (the next resume sets it aside)" if journal.torn else ""
    try:
        steps = [s.id for s in read_runbook_file(root / "runbook.yaml").steps]
    except IrkitError as exc:
        problem = problem or f"runbook.yaml: {exc}"
    last: dict[str, Mapping[str, Any]] = {}
    awaiting: dict[str, bool] = {}
    run_open = False
    interrupted = False
    exit_code: int | None = None
    for entry in entries:
        kind, step = entry.get("kind"), entry.get("step")
        if kind in _TERMINAL and step:
            last[str(step)] = entry
            if kind != "step.interrupted":
                awaiting[str(step)] = False
        elif kind == "step.awaiting_approval" and step:
            awaiting[str(step)] = True
        elif kind in {"run.start", "run.resume"}:
            run_open, interrupted = True, False
        elif kind == "run.end":
            run_open = False
            code = entry["data"].get("exit_code")
            exit_code = code if isinstance(code, int) else None
        elif kind == "run.interrupted":
            interrupted = True
    done = {
        s for s, e in last.items() if e.get("kind") == "step.done" and e["data"].get("status") != "incomplete"
    }
    incomplete = [s for s, e in last.items() if e["data"].get("status") == "incomplete"]
    waiting = next((s for s in steps if awaiting.get(s)), None)
    pending = tuple(s for s in steps if s not in done) if steps else ()
    lock = _lock_state(root)
    if lock == "running":
        status = "running"
    elif interrupted or lock == "died" or run_open:
        status = "interrupted"
    elif waiting:
        status = "awaiting approval"
    elif exit_code == 1:
        status = "failed"
    elif incomplete:
        status = "containment incomplete"
    elif exit_code == 3:
        status = "done with gaps"
    elif exit_code == 0:
        status = "done"
    elif not entries:
        status = "not started"
    else:
        status = "unknown"
    if meta.get("dry_run") is True:
        status = f"{status} (dry run)"
    resume = ""
    if status.split(" (")[0] != "running" and (pending or waiting):
        resume = f"irkit resume {root}" + (f" --approve {waiting}" if waiting else "")
    return CaseSummary(
        case_id=str(meta.get("case_id", case_id)),
        root=root,
        agent=str(meta.get("agent", "")),
        created=str(meta.get("created", "")),
        window=(str(meta.get("window_start", "")), str(meta.get("window_end", ""))),
        dry_run=meta.get("dry_run") is True,
        status=status,
        pending=pending,
        awaiting=waiting,
        exit_code=exit_code,
        problem=problem,
        resume=resume,
    )


def list_cases(out: Path) -> tuple[list[CaseSummary], int]:
    """Every case folder directly under ``out`` (newest first), and how many entries were not looked at."""
    try:
        names = sorted((e.name for e in os.scandir(out) if e.is_dir(follow_symlinks=False)), reverse=True)
    except FileNotFoundError:
        return [], 0
    except OSError as exc:
        raise CaseError(f"cannot list {out}: {exc.strerror}") from None
    folders = [out / n for n in names if (out / n / "case.json").exists()]
    shown = folders[:MAX_CASES]
    summaries = [summarise(f) for f in shown]
    summaries.sort(key=lambda s: (s.created, s.case_id), reverse=True)
    return summaries, len(folders) - len(shown)


def resolve_case(arg: str, out: Path) -> Path:
    """``CASE`` (a folder) or ``ID`` (a case id under ``out``): the case folder."""
    path = Path(arg)
    if (path / "case.json").exists() or path.is_dir():
        return path
    if _CASE_ID.match(arg) and (out / arg / "case.json").exists():
        return out / arg
    raise CaseError(
        f"no case {arg!r}: not a case folder, and no case with that id under {out} "
        f"(`irkit cases --out {out}` lists them)"
    )
