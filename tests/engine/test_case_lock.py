"""One run per case: a second contain/resume/restore of a case in use refuses, naming the first."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any, ClassVar

import orjson
import pytest

from irkit.cli import main
from irkit.core.context import RunContext
from irkit.core.journal import check_chain, verify_chain
from irkit.core.plan import Action, Plan, StepResult
from irkit.steps.base import Step, register

WORKTREE = Path(__file__).resolve().parents[2]
APPLIED: dict[str, int] = {}


@register
class LockCount(Step):
    """Stands for a mutation: counts how often it is applied."""

    name = "test_lock_count"
    summary = "counts its applies"

    def plan(self, ctx: RunContext) -> Plan:
        return Plan(self.step_id, actions=(Action("count", self.step_id),))

    def apply(self, ctx: RunContext, plan: Plan) -> StepResult:
        for action in plan.actions:
            ctx.act(self.step_id, action, lambda: APPLIED.__setitem__(self.step_id, APPLIED.get(self.step_id, 0) + 1))
        return StepResult("counted", {"count": APPLIED[self.step_id]})


@register
class LockHold(Step):
    """The first apply holds the run (as a slow step would) until the test lets it go."""

    name = "test_lock_hold"
    summary = "holds the run"
    entered: ClassVar[threading.Event] = threading.Event()
    release: ClassVar[threading.Event] = threading.Event()
    calls: ClassVar[int] = 0

    def plan(self, ctx: RunContext) -> Plan:
        return Plan(self.step_id)

    def apply(self, ctx: RunContext, plan: Plan) -> StepResult:
        LockHold.calls += 1
        if LockHold.calls == 1:
            LockHold.entered.set()
            LockHold.release.wait(60)  # bounded: a test that fails must not hang the suite
        return StepResult("held")


def _config(tmp_path: Path, endpoint: str) -> Path:
    path = tmp_path / "irkit.yaml"
    path.write_text(
        f"aws:\n  region: us-east-1\n  endpoint_url: {endpoint}\n"
        "agents:\n  bot:\n    account: '123456789012'\n    principals: ['arn:aws:iam::123456789012:user/bot']\n",
        encoding="utf-8",
    )
    return path


def _runbook(tmp_path: Path, *steps: str) -> Path:
    path = tmp_path / "book.yaml"
    path.write_text("name: lock-test\nsteps:\n" + "".join(f"  - {s}\n" for s in steps), encoding="utf-8")
    return path


def _contain(tmp_path: Path, endpoint: str, book: Path, case: str = "SAME") -> list[str]:
    return [
        "contain", "bot", "--config", str(_config(tmp_path, endpoint)), "--runbook", str(book),
        "--case", case, "--out", str(tmp_path / "cases"), "--hours", "1",
    ]  # fmt: skip


def _irkit(argv: list[str], **kw: Any) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(WORKTREE)}
    code = "import sys; from irkit.cli import main; sys.exit(main(sys.argv[1:]))"
    return subprocess.run(
        [sys.executable, "-c", code, *argv], env=env, capture_output=True, text=True, timeout=120, **kw
    )


def test_a_second_resume_while_one_runs_refuses_naming_it_and_applies_nothing(
    aws_endpoint: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    APPLIED.clear()
    LockHold.calls = 0
    LockHold.entered.clear()
    LockHold.release.clear()
    book = _runbook(tmp_path, "{step: test_lock_count, id: gated, approval: true}", "{step: test_lock_hold, id: hold}")
    assert main(_contain(tmp_path, aws_endpoint, book)) == 4  # stopped at the gate: nothing applied yet
    case = tmp_path / "cases" / "SAME"
    codes: list[int] = []
    first = threading.Thread(target=lambda: codes.append(main(["resume", str(case), "--approve", "gated"])))
    first.start()
    try:
        assert LockHold.entered.wait(60), "the first resume never reached its second step"
        capsys.readouterr()
        second = main(["resume", str(case), "--approve", "gated"])
        err = capsys.readouterr().err
    finally:
        LockHold.release.set()
        first.join(60)
    assert second == 2
    assert f"pid {os.getpid()}" in err and f"irkit resume {case}" in err and "started 20" in err
    assert codes == [0]
    assert APPLIED == {"gated": 1}  # the mutation, once
    entries = [orjson.loads(x) for x in (case / "journal.jsonl").read_bytes().splitlines()]
    assert [e["kind"] for e in entries].count("run.resume") == 1
    assert sum(1 for e in entries if e["kind"] == "action.done") == 1
    assert verify_chain(case / "journal.jsonl") == [] and check_chain(case / "journal.jsonl").intact


def test_resume_refuses_a_case_another_process_holds_and_leaves_it_untouched(
    aws_endpoint: str, tmp_path: Path
) -> None:
    from irkit.core.lock import CaseLock

    book = _runbook(tmp_path, "{step: test_lock_count, id: gated, approval: true}")
    assert main(_contain(tmp_path, aws_endpoint, book)) == 4
    case = tmp_path / "cases" / "SAME"
    with (case / "journal.jsonl").open("ab") as fh:
        fh.write(b'{"seq":9,"ts":"20')  # a torn tail: only the run holding the case may repair it
    before = (case / "journal.jsonl").read_bytes()
    with CaseLock.acquire(case, "irkit resume (the first responder)"):
        refused = _irkit(["resume", str(case), "--approve", "gated"])
        json_refused = _irkit(["resume", str(case), "--approve", "gated", "--json"])
    assert refused.returncode == 2, refused.stderr
    assert f"pid {os.getpid()}" in refused.stderr and "irkit resume (the first responder)" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert json_refused.returncode == 2
    assert (case / "journal.jsonl").read_bytes() == before
    assert not (case / "journal.jsonl.torn-1").exists()
    # Released: the same command now runs (and repairs the torn tail); in this process, which knows the step.
    assert main(["resume", str(case), "--approve", "gated"]) == 0
    assert (case / "journal.jsonl.torn-1").exists()


def test_restore_refuses_while_a_run_holds_the_case(aws_endpoint: str, tmp_path: Path) -> None:
    from irkit.core.lock import CaseLock

    book = _runbook(tmp_path, "{step: test_lock_count, id: gated, approval: true}")
    assert main(_contain(tmp_path, aws_endpoint, book)) == 4
    case = tmp_path / "cases" / "SAME"
    before = (case / "journal.jsonl").read_bytes()
    with CaseLock.acquire(case, "irkit resume SAME"):
        refused = _irkit(["restore", str(case), "--dry-run"])
    assert refused.returncode == 2, refused.stderr
    assert "in use by pid" in refused.stderr and "irkit resume SAME" in refused.stderr
    assert (case / "journal.jsonl").read_bytes() == before  # no restore.start was journaled


def test_a_lock_left_by_a_killed_run_does_not_block_and_names_it(tmp_path: Path) -> None:
    from irkit.core.lock import LOCK_FILE, CaseLock

    case = tmp_path / "case"
    case.mkdir()
    code = (
        "import os, sys; from pathlib import Path; from irkit.core.lock import CaseLock;"
        " CaseLock.acquire(Path(sys.argv[1]), 'irkit resume killed'); os.kill(os.getpid(), 9)"
    )
    died = subprocess.run(
        [sys.executable, "-c", code, str(case)], env={**os.environ, "PYTHONPATH": str(WORKTREE)}, timeout=60
    )
    assert died.returncode == -9
    assert b"irkit resume killed" in (case / LOCK_FILE).read_bytes()  # the note stayed; the flock did not
    with CaseLock.acquire(case, "irkit resume again") as lock:
        assert lock.stale is not None and lock.stale.command == "irkit resume killed"
        assert lock.stale.pid not in (0, os.getpid())
    assert (case / LOCK_FILE).read_bytes() == b""  # a clean release leaves no holder note


def test_contain_with_a_case_id_in_use_refuses_even_when_both_checked_before_either_created_it(
    aws_endpoint: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The race of two `contain --case SAME`: the second run's exists() check happened before the
    first run made the folder. Only the mkdir itself can tell them apart."""
    APPLIED.clear()
    book = _runbook(tmp_path, "{step: test_lock_count, id: only}")
    assert main(_contain(tmp_path, aws_endpoint, book)) == 0
    case = tmp_path / "cases" / "SAME"
    meta = (case / "case.json").read_bytes()
    journal = (case / "journal.jsonl").read_bytes()
    real_exists = Path.exists
    monkeypatch.setattr(Path, "exists", lambda self: False if self == case else real_exists(self))
    capsys.readouterr()
    assert main(_contain(tmp_path, aws_endpoint, book)) == 2
    assert "already exists" in capsys.readouterr().err
    assert APPLIED == {"only": 1}
    assert (case / "case.json").read_bytes() == meta
    assert (case / "journal.jsonl").read_bytes() == journal


def test_two_contain_runs_of_one_case_started_together_one_runs_one_refuses(
    aws_endpoint: str, tmp_path: Path
) -> None:
    book = _runbook(tmp_path, "step: report")
    argv = _contain(tmp_path, aws_endpoint, book)
    env = {**os.environ, "PYTHONPATH": str(WORKTREE)}
    code = "import sys; from irkit.cli import main; sys.exit(main(sys.argv[1:]))"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code, *argv], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    results = [(p.wait(120), p.communicate()[1]) for p in procs]
    codes = sorted(c for c, _ in results)
    assert codes == [0, 2], results
    loser = next(err for c, err in results if c == 2)
    assert "already exists" in loser or "in use by pid" in loser
    journal = tmp_path / "cases" / "SAME" / "journal.jsonl"
    kinds = [orjson.loads(x)["kind"] for x in journal.read_bytes().splitlines()]
    assert kinds.count("run.start") == 1 and "run.resume" not in kinds
