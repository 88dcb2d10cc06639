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
```
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from irkit.engine.journal import Journal
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


class Case:
    def __init__(self, root: Path, meta: CaseMeta) -> None:
        self.root = root
        self.meta = meta
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
    def create(cls, out: Path, meta: CaseMeta, *, config_text: str, runbook_text: str) -> Case:
        if not _CASE_ID.match(meta.case_id):
            # The id becomes a folder name: "../x" or "a/b" would put the case outside --out.
            raise CaseError(f"case id {meta.case_id!r}: use letters, digits, '.', '_' and '-' (no '/', not '..')")
        root = out / meta.case_id
        if root.exists():
            raise CaseError(f"case folder {root} already exists (pick another --case, or `irkit resume {root}`)")
        try:
            for sub in ("plans", "snapshots", "evidence"):
                (root / sub).mkdir(parents=True, exist_ok=True)
            (root / "case.json").write_bytes(orjson.dumps(meta.to_json(), option=orjson.OPT_INDENT_2))
            (root / "irkit.yaml").write_text(config_text, encoding="utf-8")
            (root / "runbook.yaml").write_text(runbook_text, encoding="utf-8")
        except OSError as exc:
            raise CaseError(f"cannot create case folder {root}: {exc.strerror} (pick another --out)") from None
        return cls(root, meta)

    @classmethod
    def open(cls, root: Path) -> Case:
        meta_path = root / "case.json"
        if not meta_path.exists():
            raise CaseError(f"{root} is not an irkit case folder (no case.json)")
        try:
            raw = orjson.loads(meta_path.read_bytes())
        except orjson.JSONDecodeError as exc:
            raise CaseError(f"{meta_path} is damaged: not valid JSON ({exc})") from None
        except OSError as exc:
            raise CaseError(f"{meta_path}: cannot read: {exc.strerror}") from None
        return cls(root, _parse_meta(raw, meta_path))

    def write_json(self, name: str, data: Any) -> Path:
        """Write a JSON file in the case atomically (a crash leaves the old file or the new one)."""
        path = self.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_bytes(orjson.dumps(data, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS, default=str))
        tmp.replace(path)
        return path

    def read_json(self, name: str) -> Any:
        path = self.root / name
        return orjson.loads(path.read_bytes()) if path.exists() else None


def utcnow() -> datetime:
    return datetime.now(UTC)
