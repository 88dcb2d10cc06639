"""Case folders are private: folders 0700, files 0600 (evidence 0400), whatever the umask."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from irkit.cli import main
from irkit.core.context import RunContext
from irkit.core.plan import Plan, StepResult
from irkit.steps.base import Step, register
from tests.contain.conftest import ROLE_ARN, USER_ARN, build_agent, write_config


@register
class LooseWriter(Step):
    """Writes the way careless step code would: explicit world-readable modes, its own folder."""

    name = "test_loose_writer"
    summary = "writes world-readable files"

    def plan(self, ctx: RunContext) -> Plan:
        return Plan(self.step_id)

    def apply(self, ctx: RunContext, plan: Plan) -> StepResult:
        root = ctx.case.root
        (root / "findings.json").write_text("{}")
        (root / "findings.json").chmod(0o644)
        (root / "extra").mkdir()
        (root / "extra").chmod(0o755)
        (root / "extra" / "notes.txt").write_text("raw log excerpt")
        (root / "evidence" / "log.json.gz").write_bytes(b"evidence")
        (root / "evidence" / "log.json.gz").chmod(0o444)
        return StepResult("wrote")


@pytest.fixture
def umask_022() -> Iterator[None]:
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def _modes(root: Path) -> dict[str, int]:
    found = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in [*dirnames, *filenames, "."]:
            path = Path(dirpath) / name
            found[str(path.relative_to(root)) if name != "." else str(Path(dirpath).relative_to(root))] = (
                stat.S_IMODE(path.lstat().st_mode) | (stat.S_IFDIR if path.is_dir() else 0)
            )
    return found


def _not_private(root: Path) -> dict[str, str]:
    wrong = {}
    for rel, mode in _modes(root).items():
        perm = stat.S_IMODE(mode)
        if mode & stat.S_IFDIR:
            ok = perm == 0o700
        elif rel.startswith("evidence/"):
            ok = perm in (0o400, 0o600)
        else:
            ok = perm == 0o600
        if not ok:
            wrong[rel] = oct(perm)
    return wrong


def _contain(tmp_path: Path, endpoint: str, *steps: str) -> list[str]:
    config = write_config(tmp_path / "irkit.yaml", endpoint, [ROLE_ARN, USER_ARN])
    book = tmp_path / "book.yaml"
    book.write_text("name: privacy\nsteps:\n" + "".join(f"  - {s}\n" for s in steps), encoding="utf-8")
    return [
        "contain", "infra-optimizer", "--config", str(config), "--runbook", str(book), "--case", "PRIV",
        "--out", str(tmp_path / "cases"), "--yes", "--hours", "1",
    ]  # fmt: skip


def test_every_folder_and_file_of_a_case_is_private_under_umask_022(
    umask_022: None, boto: Any, aws_endpoint: str, tmp_path: Path
) -> None:
    build_agent(boto("iam"))
    steps = ("{step: contain, id: contain}", "step: test_loose_writer", "step: report")
    assert main(_contain(tmp_path, aws_endpoint, *steps)) == 0
    case = tmp_path / "cases" / "PRIV"
    assert _not_private(case) == {}
    modes = _modes(case)
    # What the run wrote, all of it there to be checked (a walk over nothing would prove nothing).
    for expected in ("case.json", "irkit.yaml", "runbook.yaml", "journal.jsonl", "case.lock", "report.md",
                     "report.json", "plans/contain.json", "snapshots/user-agent-infra-bot.json",
                     "findings.json", "extra/notes.txt", "evidence/log.json.gz", "evidence", "snapshots"):  # fmt: skip
        assert expected in modes, expected
    assert stat.S_IMODE(modes["evidence/log.json.gz"]) == 0o400  # read-only stays read-only
    assert os.umask(0o022) == 0o022  # the run gave the caller's umask back


def test_resume_makes_a_world_readable_case_from_an_older_irkit_private(
    umask_022: None, boto: Any, aws_endpoint: str, tmp_path: Path
) -> None:
    build_agent(boto("iam"))
    gated = "{step: report, approval: true}"
    assert main(_contain(tmp_path, aws_endpoint, "{step: contain, id: contain}", gated)) == 0
    case = tmp_path / "cases" / "PRIV"
    for path in [case, *case.rglob("*")]:  # as irkit left cases before: 0755 folders, 0644 files
        path.chmod(0o755 if path.is_dir() else 0o644)
    with (case / "journal.jsonl").open("ab") as fh:
        fh.write(b'{"seq":99,"ts"')  # and a crash mid-write: the torn tail is set aside, privately
    assert main(["resume", str(case), "--yes"]) == 0
    assert (case / "journal.jsonl.torn-1").exists()
    assert _not_private(case) == {}
