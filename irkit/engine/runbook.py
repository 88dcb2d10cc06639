"""Runbooks: ordered steps in YAML, validated completely before anything runs.

```yaml
name: agent-compromise
description: Contain a suspected agent, collect and verify its trail, find what it changed, report.
steps:
  - step: contain           # a registered step type (`irkit runbook show` lists them)
  - step: collect
    with: {engine: s3}      # options the step declares; unknown ones are errors
  - step: revert
    approval: true          # stop for a human: interactive confirm, --yes, or resume --approve
    on_error: stop          # default: continue (the report is written whatever happens)
```
"""

from __future__ import annotations

import importlib.resources
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from irkit.core.names import canonical_step
from irkit.errors import RunbookError

_STEP_KEYS = {"step", "id", "with", "approval", "on_error", "description"}


@dataclass(frozen=True, slots=True)
class StepSpec:
    id: str
    step: str
    options: Mapping[str, Any] = field(default_factory=dict)
    approval: bool = False
    on_error: Literal["continue", "stop"] = "continue"
    description: str = ""


@dataclass(frozen=True, slots=True)
class Runbook:
    name: str
    description: str
    steps: tuple[StepSpec, ...]
    source: str = ""
    text: str = ""

    def step(self, step_id: str) -> StepSpec:
        for spec in self.steps:
            if spec.id == step_id:
                return spec
        known = ", ".join(s.id for s in self.steps)
        raise RunbookError(f"runbook {self.name!r} has no step {step_id!r} (steps: {known})")


def runbook_dirs() -> list[Path]:
    """Shipped runbooks: inside the installed package, or the checkout's top-level ``runbooks/``."""
    dirs = []
    packaged = Path(str(importlib.resources.files("irkit"))) / "_runbooks"
    if packaged.is_dir():
        dirs.append(packaged)
    checkout = Path(__file__).resolve().parents[2] / "runbooks"
    if checkout.is_dir():
        dirs.append(checkout)
    return dirs


def shipped_runbooks() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for directory in runbook_dirs():
        for path in sorted(directory.glob("*.yaml")):
            found.setdefault(path.stem, path)
    return found


def load_runbook(name_or_file: str) -> Runbook:
    """A shipped runbook by name, or a YAML file by path; validated against the step registry."""
    path = Path(name_or_file)
    if not (path.suffix in {".yaml", ".yml"} and path.exists()):
        shipped = shipped_runbooks()
        if name_or_file not in shipped:
            known = ", ".join(sorted(shipped)) or "(none)"
            what = "a file without a .yaml/.yml suffix" if path.exists() else "not a file"
            raise RunbookError(f"no runbook {name_or_file!r}: {what}, and not a shipped runbook ({known})")
        path = shipped[name_or_file]
    return read_runbook_file(path)


def read_runbook_file(path: Path) -> Runbook:
    """A runbook YAML file, parsed and validated; unreadable or non-UTF-8 files are RunbookErrors."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise RunbookError(f"{path}: cannot read: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise RunbookError(f"{path}: not UTF-8 text (byte {exc.start}); a runbook must be UTF-8 YAML") from None
    return parse_runbook(text, source=str(path))


def parse_runbook(text: str, *, source: str = "") -> Runbook:
    from irkit.steps import registry  # the registry imports steps; steps import the engine model

    where = f"{source}: " if source else ""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError:
        raise RunbookError(f"{where}not valid YAML") from None
    if not isinstance(data, dict):
        raise RunbookError(f"{where}a runbook is a mapping with name, description and steps")
    unknown = set(data) - {"name", "description", "steps"}
    if unknown:
        raise RunbookError(f"{where}{sorted(unknown)[0]}: unknown key (allowed: name, description, steps)")
    name = data.get("name")
    if not isinstance(name, str) or not name:
        raise RunbookError(f"{where}name: required, a string")
    raw_steps = data.get("steps")
    if not isinstance(raw_steps, list) or not raw_steps:
        raise RunbookError(f"{where}steps: required, a non-empty list")
    steps: list[StepSpec] = []
    seen: set[str] = set()
    known_steps = registry()
    for i, raw in enumerate(raw_steps):
        at = f"{where}steps[{i}]"
        if not isinstance(raw, dict):
            raise RunbookError(f"{at}: expected a mapping with at least `step: NAME`")
        bad = set(raw) - _STEP_KEYS
        if bad:
            raise RunbookError(f"{at}.{sorted(bad)[0]}: unknown key (allowed: {', '.join(sorted(_STEP_KEYS))})")
        written = raw.get("step")
        # an old name (`revoke`) is read as the new one; the step id stays what the runbook wrote
        kind = canonical_step(written) if isinstance(written, str) else written
        if not isinstance(kind, str) or kind not in known_steps:
            valid = ", ".join(sorted(known_steps))
            raise RunbookError(f"{at}.step: unknown step {written!r} (registered steps: {valid})")
        step_id = raw.get("id", written)
        if not isinstance(step_id, str) or not step_id:
            raise RunbookError(f"{at}.id: must be a non-empty string")
        if step_id in seen:
            raise RunbookError(f"{at}.id: duplicate step id {step_id!r}")
        seen.add(step_id)
        options = raw.get("with") or {}
        if not isinstance(options, dict):
            raise RunbookError(f"{at}.with: expected a mapping of options")
        try:
            known_steps[kind].validate_options(options)
        except RunbookError as exc:
            raise RunbookError(f"{at}.with.{exc}") from None
        approval = raw.get("approval", False)
        if not isinstance(approval, bool):
            raise RunbookError(f"{at}.approval: expected true or false")
        on_error = raw.get("on_error", "continue")
        if on_error not in ("continue", "stop"):
            raise RunbookError(f"{at}.on_error: expected continue or stop")
        steps.append(
            StepSpec(
                id=step_id,
                step=kind,
                options=options,
                approval=approval,
                on_error=on_error,
                description=str(raw.get("description", "")),
            )
        )
    description = data.get("description", "")
    return Runbook(name=name, description=str(description), steps=tuple(steps), source=source, text=text)
