"""The case folder: everything one run knows, on disk, so that any run can be resumed.

```
<out>/<case-id>/
  case.json        what was asked (agent, window, runbook, dry run); written once
  irkit.yaml       the configuration as it was when the case began
  runbook.yaml     the runbook as it was when the case began
  journal.jsonl    hash-chained record of every step and action
  plans/           each step's plan, as approved
  snapshots/       principals' configuration before containment touched them
  evidence/        CloudTrail as collected (read-only) + manifest.json
  findings.json    detection output
  report.md        the incident report (report.json beside it)
  case.lock        held (flock) by the one run working on the case; a note of who that is
```
A case is private to the responder's user: folders 0700, files 0600 (evidence 0400), whatever the
umask. One run at a time works on a case (:mod:`irkit.core.lock`).
"""

from __future__ import annotations

import os
import re
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from irkit.core.journal import Journal
from irkit.core.lock import PRIVATE_DIR, PRIVATE_FILE, CaseLock
from irkit.errors import CaseError


@dataclass(frozen=True, slots=True)
class CaseMeta:
    case_id: str
    agent: str
    runbook: str
    hours: float
    dry_run: bool
    created: str
    window_start: str
    window_end: str
    engine: str = "s3"
    max_actions: int = 200

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


# What each case.json field must hold: a resume trusts these (dry_run decides whether AWS is changed).
_META_TYPES: dict[str, tuple[type, ...]] = {
    "case_id": (str,),
    "agent": (str,),
    "runbook": (str,),
    "hours": (int, float),
    "dry_run": (bool,),
    "created": (str,),
    "window_start": (str,),
    "window_end": (str,),
    "engine": (str,),
    "max_actions": (int,),
}
_META_OPTIONAL = {"engine", "max_actions"}


def _parse_meta(raw: object, meta_path: Path) -> CaseMeta:
    """case.json → CaseMeta, or a CaseError naming the first bad key (never a Python signature)."""
    if not isinstance(raw, dict):
        raise CaseError(f"{meta_path} is damaged: expected a JSON object")
    for key in raw:
        if key not in _META_TYPES:
            raise CaseError(f"{meta_path} is damaged: {key}: unknown key")
    for key, types in _META_TYPES.items():
        if key not in raw:
            if key in _META_OPTIONAL:
                continue
            raise CaseError(f"{meta_path} is damaged: {key}: required key is missing")
        value = raw[key]
        if not isinstance(value, types) or (bool not in types and isinstance(value, bool)):
            expected = " or ".join(t.__name__ for t in types)
            raise CaseError(f"{meta_path} is damaged: {key}: expected {expected}, got {value!r}")
    return CaseMeta(**raw)


_CASE_ID = re.compile(r"^(?!\.{1,2}$)[A-Za-z0-9._-]{1,128}$")


def new_case_id(agent: str, now: datetime) -> str:
    slug = re.sub(r"[^A-Za-z0-9-]+", "-", agent).strip("-")[:40] or "agent"
    return f"IR-{now:%Y%m%d-%H%M%S}-{slug}"


def write_private(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (a crash leaves the old file or the new one), mode 0600."""
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, PRIVATE_FILE)
    try:
        os.fchmod(fd, PRIVATE_FILE)  # a .tmp left by a crash may have been made with other bits
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
    finally:
        os.close(fd)
    tmp.replace(path)


class Case:
    def __init__(self, root: Path, meta: CaseMeta, lock: CaseLock | None = None) -> None:
        self.root = root
        self.meta = meta
        self.lock = lock
        """Held while this process runs the case (contain, resume, restore); None for a reader."""
        self.journal = Journal(root / "journal.jsonl")

    @property
    def case_id(self) -> str:
        return self.meta.case_id

    @property
    def evidence_dir(self) -> Path:
        return self.root / "evidence"

    @property
    def snapshots_dir(self) -> Path:
        return self.root / "snapshots"

    @property
    def plans_dir(self) -> Path:
        return self.root / "plans"

    @property
    def config_copy(self) -> Path:
        return self.root / "irkit.yaml"

    @property
    def runbook_copy(self) -> Path:
        return self.root / "runbook.yaml"

    @classmethod
    def create(
        cls, out: Path, meta: CaseMeta, *, config_text: str, runbook_text: str, command: str = "irkit contain"
    ) -> Case:
        """A new case folder, locked by this process (release it with :meth:`close`)."""
        if not _CASE_ID.match(meta.case_id):
            # The id becomes a folder name: "../x" or "a/b" would put the case outside --out.
            raise CaseError(f"case id {meta.case_id!r}: use letters, digits, '.', '_' and '-' (no '/', not '..')")
        root = out / meta.case_id
        taken = f"case folder {root} already exists (pick another --case, or `irkit resume {root}`)"
        if root.exists():
            raise CaseError(taken)
        try:
            out.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise CaseError(f"cannot create case folder {root}: {exc.strerror} (pick another --out)") from None
        try:
            # exist_ok=False is the claim: of two runs creating the same case, exactly one gets it.
            root.mkdir(mode=PRIVATE_DIR)
        except FileExistsError:
            raise CaseError(taken) from None
        except OSError as exc:
            raise CaseError(f"cannot create case folder {root}: {exc.strerror} (pick another --out)") from None
        lock = CaseLock.acquire(root, command)
        try:
            for sub in ("plans", "snapshots", "evidence"):
                (root / sub).mkdir(mode=PRIVATE_DIR, exist_ok=True)
            write_private(root / "case.json", orjson.dumps(meta.to_json(), option=orjson.OPT_INDENT_2))
            write_private(root / "irkit.yaml", config_text.encode("utf-8"))
            write_private(root / "runbook.yaml", runbook_text.encode("utf-8"))
            return cls(root, meta, lock)
        except OSError as exc:
            lock.release()
            raise CaseError(f"cannot create case folder {root}: {exc.strerror} (pick another --out)") from None
        except BaseException:
            lock.release()
            raise

    @classmethod
    def open(cls, root: Path, *, command: str | None = None) -> Case:
        """An existing case; with ``command``, locked by this process first (as the run ``command``),
        so that nothing (not even the repair of a torn journal line) touches a case another run holds."""
        meta_path = root / "case.json"
        if not meta_path.exists():
            raise CaseError(f"{root} is not an irkit case folder (no case.json)")
        lock = CaseLock.acquire(root, command) if command is not None else None
        try:
            try:
                raw = orjson.loads(meta_path.read_bytes())
            except orjson.JSONDecodeError as exc:
                raise CaseError(f"{meta_path} is damaged: not valid JSON ({exc})") from None
            except OSError as exc:
                raise CaseError(f"{meta_path}: cannot read: {exc.strerror}") from None
            return cls(root, _parse_meta(raw, meta_path), lock)
        except BaseException:
            if lock is not None:
                lock.release()
            raise

    def close(self) -> None:
        """Release the case (its lock) when this process has finished working on it."""
        if self.lock is not None:
            self.lock.release()

    def __enter__(self) -> Case:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def write_json(self, name: str, data: Any) -> Path:
        """Write a JSON file in the case atomically (a crash leaves the old file or the new one), 0600."""
        path = self.root / name
        path.parent.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)
        write_private(path, orjson.dumps(data, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS, default=str))
        return path

    def write_bytes(self, name: str, data: bytes) -> Path:
        """Write any file in the case atomically and privately (0600)."""
        path = self.root / name
        path.parent.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)
        write_private(path, data)
        return path

    def read_json(self, name: str) -> Any:
        path = self.root / name
        return orjson.loads(path.read_bytes()) if path.exists() else None


def utcnow() -> datetime:
    return datetime.now(UTC)
