"""A step's failures and findings stay bounded in the journal: internal errors (MemoryError too)
are failed steps with their type, and a step.done never names more than a folded list of gaps."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from irkit.cli import main
from irkit.core.context import RunContext
from irkit.core.journal import verify_chain
from irkit.core.plan import Plan, StepResult
from irkit.engine.run import start_run
from irkit.engine.runbook import parse_runbook
from irkit.errors import ExitCode
from irkit.gaps import FOLD_LIMIT, Gap, folded_count
from irkit.steps.base import Step, register
from tests.engine.test_executor import settings

MANY = 20_000


@register
class OutOfMemory(Step):
    name = "test_out_of_memory"
    summary = "runs out of memory"

    def plan(self, ctx: RunContext) -> Plan:
        return Plan(self.step_id)

    def apply(self, ctx: RunContext, plan: Plan) -> StepResult:
        raise MemoryError("cannot allocate 17179869184 bytes")


@register
class BadOutput(Step):
    """Returns an output that is not a mapping: the run must say which step, not crash."""

    name = "test_bad_output"
    summary = "returns garbage"

    def plan(self, ctx: RunContext) -> Plan:
        return Plan(self.step_id)

    def apply(self, ctx: RunContext, plan: Plan) -> StepResult:
        return StepResult("garbage", output=42)  # type: ignore[arg-type]


@register
class Gapful(Step):
    """What a crafted archive makes of a reader: one gap a record, tens of thousands of them."""

    name = "test_gapful"
    summary = "finds a gap per record"

    def plan(self, ctx: RunContext) -> Plan:
        return Plan(self.step_id, gaps=tuple(Gap(f"s3://b/plan-{i}", "unreadable: denied") for i in range(10)))

    def apply(self, ctx: RunContext, plan: Plan) -> StepResult:
        gaps = tuple(Gap(f"s3://b/AWSLogs/{i}.json.gz", f"malformed record: line {i}") for i in range(MANY))
        return StepResult("read", gaps=(*plan.gaps, *gaps))


@register
class Fine(Step):
    name = "test_fine"
    summary = "succeeds"

    def plan(self, ctx: RunContext) -> Plan:
        return Plan(self.step_id)

    def apply(self, ctx: RunContext, plan: Plan) -> StepResult:
        return StepResult("fine")


def _run(endpoint: str, tmp_path: Path, *steps: str) -> Any:
    text = "name: t\nsteps:\n" + "".join(f"  - {s}\n" for s in steps)
    return start_run(
        settings(endpoint), agent_name="bot", runbook=parse_runbook(text), hours=1, out=tmp_path, echo=lambda _: None
    )


def _entries(result: Any) -> list[dict[str, Any]]:
    return [orjson.loads(x) for x in result.case.journal.path.read_bytes().splitlines()]


@pytest.mark.parametrize(("step", "error_type", "said"), [
    ("test_out_of_memory", "MemoryError", "cannot allocate 17179869184 bytes"),
    ("test_bad_output", "TypeError", ""),
])  # fmt: skip
def test_an_internal_error_in_a_step_is_a_failed_step_with_its_type_and_the_run_goes_on(
    aws_endpoint: str, tmp_path: Path, step: str, error_type: str, said: str
) -> None:
    result = _run(aws_endpoint, tmp_path, f"step: {step}", "step: test_fine")
    assert result.outcome.exit_code == ExitCode.STEP_FAILED
    assert [s.status for s in result.outcome.steps] == ["failed", "done"]
    (failed,) = [e for e in _entries(result) if e["kind"] == "step.failed"]
    assert failed["step"] == step and failed["data"]["error_type"] == error_type
    assert f"internal error in step {step}: {error_type}: {said}" in failed["data"]["error"]
    assert not any(e["kind"] == "step.done" and e["step"] == step for e in _entries(result))
    assert _entries(result)[-1]["kind"] == "run.end"
    assert verify_chain(result.case.journal.path) == []


def test_step_done_names_a_bounded_list_of_gaps_and_counts_the_rest(aws_endpoint: str, tmp_path: Path) -> None:
    result = _run(aws_endpoint, tmp_path, "step: test_gapful")
    assert result.outcome.exit_code == ExitCode.GAPS
    (done,) = [e for e in _entries(result) if e["kind"] == "step.done"]
    gaps = [Gap(g["path"], g["reason"]) for g in done["data"]["gaps"]]
    assert len(gaps) <= FOLD_LIMIT + 10  # a few named per kind, one summary per kind
    assert folded_count(gaps) == MANY + 10  # every gap still counted (plan's ten are not doubled)
    assert _entries(result)[-1]["data"]["gaps"] == MANY + 10
    assert result.case.journal.path.stat().st_size < 100_000


def test_contain_says_how_many_gaps_the_folded_list_stands_for(
    aws_endpoint: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "irkit.yaml"
    config.write_text(
        f"aws:\n  region: us-east-1\n  endpoint_url: {aws_endpoint}\n"
        "agents:\n  bot:\n    account: '123456789012'\n    principals: ['arn:aws:iam::123456789012:user/bot']\n"
    )
    book = tmp_path / "book.yaml"
    book.write_text("name: t\nsteps:\n  - step: test_gapful\n")
    code = main(["contain", "bot", "--config", str(config), "--runbook", str(book), "--out", str(tmp_path / "c")])
    out = capsys.readouterr().out
    assert code == 3
    assert f"done with {MANY + 10} coverage gaps (exit 3)" in out
    assert out.count("gap: ") < FOLD_LIMIT + 20
