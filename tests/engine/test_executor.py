"""The engine: dry-run guard below the steps, approval gates, failures, resume after a crash."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import orjson
import pytest

from irkit.aws.guard import is_read_only
from irkit.config import Settings, parse_config
from irkit.core.context import RunContext
from irkit.core.journal import verify_chain
from irkit.core.plan import Action, Plan, StepResult
from irkit.engine.run import resume_run, start_run
from irkit.engine.runbook import parse_runbook
from irkit.errors import ExitCode, RunbookError
from irkit.steps.base import Step, register

CALLS: dict[str, int] = {}


@register
class SneakyCreateUser(Step):
    """Claims to only read, but creates an IAM user: the guard must stop it in a dry run."""

    name = "test_sneaky_create_user"
    summary = "misbehaves"
    mutates = False

    def plan(self, ctx: RunContext) -> Plan:
        return Plan(self.step_id)

    def apply(self, ctx: RunContext, plan: Plan) -> StepResult:
        ctx.aws.client("iam").create_user(UserName="created-by-sneaky-step")
        return StepResult("created a user")


@register
class Count(Step):
    name = "test_count"
    summary = "counts its applies"

    def plan(self, ctx: RunContext) -> Plan:
        return Plan(self.step_id, actions=(Action("count", self.step_id),))

    def apply(self, ctx: RunContext, plan: Plan) -> StepResult:
        CALLS[self.step_id] = CALLS.get(self.step_id, 0) + 1
        return StepResult("counted", {"count": CALLS[self.step_id]})


@register
class CrashOnce(Step):
    """Dies like a killed process the first time (no exception handler sees it)."""

    name = "test_crash_once"
    summary = "crashes once"
    crashed: ClassVar[bool] = False

    def plan(self, ctx: RunContext) -> Plan:
        return Plan(self.step_id)

    def apply(self, ctx: RunContext, plan: Plan) -> StepResult:
        if not CrashOnce.crashed:
            CrashOnce.crashed = True
            raise KeyboardInterrupt
        return StepResult("survived")


@register
class Boom(Step):
    name = "test_boom"
    summary = "always fails"

    def plan(self, ctx: RunContext) -> Plan:
        return Plan(self.step_id)

    def apply(self, ctx: RunContext, plan: Plan) -> StepResult:
        raise RuntimeError("boom")


def settings(endpoint: str) -> Settings:
    return parse_config(
        {
            "aws": {"region": "us-east-1", "endpoint_url": endpoint},
            "agents": {"bot": {"account": "123456789012", "principals": ["arn:aws:iam::123456789012:user/bot"]}},
        }
    )


def book(*steps: str) -> str:
    return "name: test\nsteps:\n" + "".join(f"  - {s}\n" for s in steps)


def run(endpoint: str, tmp_path: Path, text: str, **kw: Any) -> Any:
    return start_run(
        settings(endpoint),
        agent_name="bot",
        runbook=parse_runbook(text),
        hours=1,
        out=tmp_path,
        echo=lambda _: None,
        **kw,
    )


@pytest.mark.parametrize(
    ("action", "read"),
    [
        ("iam:ListUsers", True),
        ("s3:GetObject", True),
        ("sts:AssumeRole", True),
        ("iam:CreateUser", False),
        ("iam:UpdateAccessKey", False),
        ("sts:GetFederationToken", False),
        ("ec2:RunInstances", False),
        ("secretsmanager:GetSecretValue", False),
        ("cloudtrail:LookupEvents", True),
        ("iam:TagRole", False),
    ],
)
def test_guard_allows_reads_only(action: str, read: bool) -> None:
    service, op = action.split(":")
    assert is_read_only(service, op) is read


def test_dry_run_guard_stops_a_misbehaving_step(aws_endpoint: str, boto: Any, tmp_path: Path) -> None:
    result = run(aws_endpoint, tmp_path, book("step: test_sneaky_create_user"), dry_run=True)
    assert result.outcome.exit_code == ExitCode.STEP_FAILED
    failed = [e for e in result.case.journal.entries() if e["kind"] == "step.failed"]
    assert "refused mutating call iam:CreateUser" in failed[0]["data"]["error"]
    assert boto("iam").list_users()["Users"] == []


def test_same_step_without_dry_run_does_mutate(aws_endpoint: str, boto: Any, tmp_path: Path) -> None:
    # The control: proves the dry-run test above would fail if the guard did nothing.
    result = run(aws_endpoint, tmp_path, book("step: test_sneaky_create_user"))
    assert result.outcome.exit_code == ExitCode.OK
    assert [u["UserName"] for u in boto("iam").list_users()["Users"]] == ["created-by-sneaky-step"]


def test_failed_step_does_not_stop_later_steps(aws_endpoint: str, tmp_path: Path) -> None:
    result = run(aws_endpoint, tmp_path, book("step: test_boom", "{step: test_count, id: after}"))
    assert result.outcome.exit_code == ExitCode.STEP_FAILED
    assert [s.status for s in result.outcome.steps] == ["failed", "done"]


def test_on_error_stop_stops(aws_endpoint: str, tmp_path: Path) -> None:
    result = run(aws_endpoint, tmp_path, book("{step: test_boom, on_error: stop}", "{step: test_count, id: never}"))
    assert [s.step_id for s in result.outcome.steps] == ["test_boom"]


def test_approval_gate_exits_4_and_resume_applies_the_saved_plan(aws_endpoint: str, tmp_path: Path) -> None:
    CALLS.clear()
    text = book(
        "{step: test_count, id: first}", "{step: test_count, id: gated, approval: true}", "{step: test_count, id: last}"
    )
    result = run(aws_endpoint, tmp_path, text)
    assert result.outcome.exit_code == ExitCode.AWAITING_APPROVAL
    assert result.outcome.awaiting == "gated"
    assert CALLS == {"first": 1}
    assert (result.case.plans_dir / "gated.json").exists()

    resumed = resume_run(result.case.root, approvals=["gated"], echo=lambda _: None)
    assert resumed.outcome.exit_code == ExitCode.OK
    assert CALLS == {"first": 1, "gated": 1, "last": 1}
    kinds = [e["kind"] for e in resumed.case.journal.entries()]
    assert "step.approved" in kinds
    assert verify_chain(resumed.case.journal.path) == []


def test_unknown_approve_step_is_a_usage_error(aws_endpoint: str, tmp_path: Path) -> None:
    result = run(aws_endpoint, tmp_path, book("{step: test_count, approval: true}"))
    with pytest.raises(RunbookError):
        resume_run(result.case.root, approvals=["nope"], echo=lambda _: None)


def test_yes_passes_the_gate(aws_endpoint: str, tmp_path: Path) -> None:
    CALLS.clear()
    result = run(aws_endpoint, tmp_path, book("{step: test_count, id: g, approval: true}"), assume_yes=True)
    assert result.outcome.exit_code == ExitCode.OK
    assert CALLS == {"g": 1}


def test_resume_after_crash_skips_completed_steps(aws_endpoint: str, tmp_path: Path) -> None:
    CALLS.clear()
    CrashOnce.crashed = False
    text = book("{step: test_count, id: before}", "step: test_crash_once", "{step: test_count, id: after}")
    with pytest.raises(KeyboardInterrupt):
        run(aws_endpoint, tmp_path, text, case_id="CRASH")
    root = tmp_path / "CRASH"
    entries = orjson_lines(root / "journal.jsonl")
    assert (entries[-2]["kind"], entries[-2]["step"]) == ("step.planned", "test_crash_once")  # left open
    assert (entries[-1]["kind"], entries[-1]["data"]["at_step"]) == ("run.interrupted", "test_crash_once")
    assert CALLS == {"before": 1}

    resumed = resume_run(root, echo=lambda _: None)
    assert resumed.outcome.exit_code == ExitCode.OK
    assert CALLS == {"before": 1, "after": 1}  # `before` was not run again
    assert [s.status for s in resumed.outcome.steps] == ["done", "done", "done"]
    interrupted = [e["step"] for e in orjson_lines(root / "journal.jsonl") if e["kind"] == "step.interrupted"]
    assert interrupted == ["test_crash_once"]
    assert verify_chain(root / "journal.jsonl") == []


def orjson_lines(path: Path) -> list[dict[str, Any]]:
    return [orjson.loads(x) for x in path.read_bytes().splitlines() if x.strip()]


def test_runbook_validation_names_the_bad_part() -> None:
    with pytest.raises(RunbookError, match=r"steps\[0\].step: unknown step 'nope'.*contain"):
        parse_runbook(book("step: nope"))
    with pytest.raises(RunbookError, match=r"steps\[0\].with.max_actions: expected int"):
        parse_runbook(book("{step: contain, with: {max_actions: many}}"))
    with pytest.raises(RunbookError, match=r"steps\[0\].aproval: unknown key"):
        parse_runbook(book("{step: contain, aproval: true}"))
    with pytest.raises(RunbookError, match="duplicate step id"):
        parse_runbook(book("step: report", "step: report"))


def test_resume_after_a_crash_mid_write_sets_the_torn_line_aside(aws_endpoint: str, tmp_path: Path) -> None:
    CALLS.clear()
    CrashOnce.crashed = False
    text = book("{step: test_count, id: before}", "step: test_crash_once", "{step: test_count, id: after}")
    with pytest.raises(KeyboardInterrupt):
        run(aws_endpoint, tmp_path, text, case_id="TORN")
    journal = tmp_path / "TORN" / "journal.jsonl"
    torn = b'{"seq":99,"ts":"2026-'  # the process died while writing this entry
    with journal.open("ab") as fh:
        fh.write(torn)

    resumed = resume_run(tmp_path / "TORN", echo=lambda _: None)
    assert resumed.outcome.exit_code == ExitCode.OK
    assert CALLS == {"before": 1, "after": 1}
    assert (tmp_path / "TORN" / "journal.jsonl.torn-1").read_bytes() == torn
    repaired = [e for e in orjson_lines(journal) if e["kind"] == "journal.repaired"]
    assert repaired and repaired[0]["data"]["torn_bytes"] == len(torn)
    assert verify_chain(journal) == []


def test_a_journal_line_that_is_not_an_object_is_named(tmp_path: Path) -> None:
    journal = tmp_path / "journal.jsonl"
    journal.write_bytes(b"[1]\n")
    assert verify_chain(journal) == ["line 1: not a journal entry (expected a JSON object)"]
