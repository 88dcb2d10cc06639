"""Run a runbook: plan → (approval) → apply, one step at a time, every transition journaled.

A resumed run reads the journal, restores the outputs of completed steps and starts at the first
step that did not finish. A step that fails is journaled and the run continues (unless the step
says ``on_error: stop``), so the report is still written; the exit code says what happened.

A step that did not achieve its purpose is not done. A containment step (one that ``mutates``)
whose output says ``complete: false`` (a principal NOT contained, a refusal over ``max_actions``)
is journaled ``step.done`` with status ``incomplete``: a resume runs it again (steps are
idempotent: what is contained already is not planned twice), and then runs again every later step
that reads what it changed (:data:`READS`), so the report always matches what happened.
The terminal mark says the same: ✓ done without gaps, ! done with gaps, ✗ failed, refused or
incomplete, · planned (dry run).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from irkit.core.context import RunContext
from irkit.core.names import canonical_step
from irkit.core.plan import Plan, StepResult
from irkit.engine.runbook import Runbook, StepSpec
from irkit.errors import ExitCode, IrkitError
from irkit.gaps import Gap, fold, folded_count
from irkit.redact import redact_text
from irkit.steps import registry
from irkit.steps.base import Step


@dataclass
class StepOutcome:
    step_id: str
    step: str
    status: str  # done | planned | failed | skipped | awaiting-approval | declined
    summary: str = ""
    seconds: float = 0.0


@dataclass
class RunOutcome:
    steps: list[StepOutcome] = field(default_factory=list)
    gaps: list[Gap] = field(default_factory=list)
    awaiting: str | None = None

    @property
    def failed(self) -> list[str]:
        return [s.step_id for s in self.steps if s.status == "failed"]

    @property
    def exit_code(self) -> ExitCode:
        if self.awaiting:
            return ExitCode.AWAITING_APPROVAL
        if self.failed:
            return ExitCode.STEP_FAILED
        if self.gaps:
            return ExitCode.GAPS
        return ExitCode.OK


Confirm = Callable[[str], bool]

INCOMPLETE = "incomplete"
"""A step that ran to its end without achieving its purpose (containment not complete): resumed again."""

TERMINAL = frozenset({"step.done", "step.failed", "step.interrupted"})

READS: Mapping[str, frozenset[str]] = {
    "verify": frozenset({"collect"}),
    "detect": frozenset({"collect", "verify"}),
    "contain_chain": frozenset({"contain", "collect", "verify", "detect"}),
    "report": frozenset({"*"}),
}
"""What a completed step reads from earlier ones, by step type: when one of them ran again in a
resume, the step runs again too (``*``: anything). Step types not listed are not re-run (an
approved revert is not applied twice because containment was retried)."""


class Executor:
    def __init__(
        self,
        ctx: RunContext,
        runbook: Runbook,
        *,
        assume_yes: bool = False,
        approvals: Sequence[str] = (),
        confirm: Confirm | None = None,
        before_step: Callable[[str], None] | None = None,
    ) -> None:
        self.ctx = ctx
        self.current: tuple[str, str] | None = None
        """The step (id, type) running now; None between steps (read when the run is interrupted)."""
        self.before_step = before_step
        """Called with each step's type before it runs (the preflight says what it found)."""
        self.runbook = runbook
        self.assume_yes = assume_yes
        self.approvals = set(approvals)
        self.confirm = confirm
        for step_id in self.approvals:
            runbook.step(step_id)  # an unknown --approve is a usage error, before anything runs

    def run(self) -> RunOutcome:
        journal = self.ctx.journal
        done = self._completed_steps()
        outcome = RunOutcome()
        if not any(e["kind"] == "run.start" for e in journal.entries()):
            journal.append("run.start", runbook=self.runbook.name, dry_run=self.ctx.dry_run)
        else:
            journal.append("run.resume", completed=sorted(done))
            for step_id in self._open_steps():
                for action in self._unfinished_actions(step_id):
                    # Attempted, outcome never written (the process died mid-call): say so before the
                    # step runs again and plans from what AWS says now (done already → not planned).
                    journal.append(
                        "action.interrupted",
                        step=step_id,
                        action=action,
                        note="started before the run was interrupted; its outcome was never recorded",
                    )
                journal.append("step.interrupted", step=step_id, note="started but never finished; running it again")
        reran: set[str] = set()  # step types that ran in this run (a resume: ran again)
        for spec in self.runbook.steps:
            stale = spec.id in done and self._reads_rerun(spec, reran)
            if stale:
                self.ctx.echo(f"  {spec.id}: its inputs changed in this resume; running it again")
                journal.append("step.rerun", step=spec.id, because=sorted(reran))
            if spec.id in done and not stale:
                entry = done[spec.id]
                self._restore_output(spec, entry)
                outcome.gaps.extend(Gap(str(g["path"]), str(g["reason"])) for g in entry.get("gaps", []))
                outcome.steps.append(
                    StepOutcome(spec.id, spec.step, str(entry.get("status", "done")), "completed earlier")
                )
                continue
            self.current = (spec.id, spec.step)
            if self.before_step is not None:
                self.before_step(spec.step)
            step_outcome = self._run_step(spec, outcome)
            self.current = None
            outcome.steps.append(step_outcome)
            if step_outcome.status not in {"awaiting-approval", "declined"}:
                reran.add(spec.step)
            if step_outcome.status == "awaiting-approval":
                outcome.awaiting = spec.id
                break
            if step_outcome.status == "failed" and spec.on_error == "stop":
                self.ctx.echo(f"  step {spec.id} failed and is marked on_error: stop; the run stops here")
                break
        journal.append(
            "run.end",
            exit_code=int(outcome.exit_code),
            failed=outcome.failed,
            awaiting=outcome.awaiting,
            gaps=folded_count(outcome.gaps),
        )
        return outcome

    # -- one step -------------------------------------------------------------------------------

    def _run_step(self, spec: StepSpec, outcome: RunOutcome) -> StepOutcome:
        ctx, journal = self.ctx, self.ctx.journal
        step = registry()[spec.step](spec.id, spec.options)
        started = time.monotonic()
        ctx.echo(f"▶ {spec.id} ({spec.step})")
        plan_path = ctx.case.plans_dir / f"{spec.id}.json"
        awaited = self._awaiting(spec.id)
        approved_plan = awaited and plan_path.exists() and self._approved(spec)
        try:
            if approved_plan:
                # Apply exactly the plan the human approved, not a fresh one.
                plan = Plan.from_json(ctx.case.read_json(f"plans/{spec.id}.json"))
                journal.append(
                    "step.approved", step=spec.id, by="resume --approve" if spec.id in self.approvals else "--yes"
                )
            else:
                journal.append("step.start", step=spec.id, type=spec.step)
                plan = step.plan(ctx)
                ctx.case.write_json(f"plans/{spec.id}.json", plan.to_json())
                journal.append(
                    "step.planned",
                    step=spec.id,
                    actions=[a.to_json() for a in plan.actions],
                    notes=list(plan.notes),
                )
                self._echo_plan(plan)
            if ctx.dry_run and step.mutates:
                return self._finish(
                    spec, step, StepResult("dry run: planned, not applied"), plan, "planned", started, outcome
                )
            if spec.approval and plan.actions and not approved_plan and not self._approved(spec):
                decision = self._ask(spec, plan)
                if decision is None:
                    journal.append("step.awaiting_approval", step=spec.id, plan=f"plans/{spec.id}.json")
                    ctx.echo(f"  waiting for approval: irkit resume {ctx.case.root} --approve {spec.id}")
                    return StepOutcome(spec.id, spec.step, "awaiting-approval", "awaiting approval")
                if not decision:
                    return self._finish(
                        spec, step, StepResult("declined by the operator"), plan, "declined", started, outcome
                    )
                journal.append("step.approved", step=spec.id, by="interactive")
            result = step.apply(ctx, plan)
            return self._finish(spec, step, result, plan, "done", started, outcome)
        except IrkitError as exc:
            return self._fail(spec, exc, started)
        except Exception as exc:  # MemoryError and RecursionError included: a failed step, not a dead run
            return self._fail(spec, exc, started, internal=True)

    def _awaiting(self, step_id: str) -> bool:
        """Is the step waiting for approval now (asked, and neither applied nor failed since)?"""
        state = False
        for entry in self.ctx.journal.entries():
            if entry.get("step") != step_id:
                continue
            if entry["kind"] == "step.awaiting_approval":
                state = True
            elif entry["kind"] in {"step.done", "step.failed"}:
                state = False
        return state

    def _approved(self, spec: StepSpec) -> bool:
        return self.assume_yes or spec.id in self.approvals

    def _ask(self, spec: StepSpec, plan: Plan) -> bool | None:
        """True/False from an interactive operator; None when nobody can be asked (exit 4)."""
        if self.confirm is None or not sys.stdin.isatty():
            return None
        return self.confirm(f"Apply step {spec.id!r} ({len(plan.actions)} actions)?")

    def _finish(
        self,
        spec: StepSpec,
        step: Step,
        result: StepResult,
        plan: Plan,
        status: str,
        started: float,
        outcome: RunOutcome,
    ) -> StepOutcome:
        planned = set(plan.gaps)
        # Bounded whatever the step found (a crafted archive can yield a gap per record): a few named
        # per kind, the rest counted (irkit.gaps.fold). The outcome keeps the same list a resume reads back.
        gaps = fold(list(plan.gaps) + [g for g in result.gaps if g not in planned])
        output = dict(result.output)
        seconds = round(time.monotonic() - started, 3)
        if status == "done" and step.mutates and output.get("complete") is False:
            status = INCOMPLETE  # a resume tries it again
        self.ctx.journal.append(
            "step.done",
            step=spec.id,
            type=spec.step,
            status=status,
            summary=result.summary,
            output=output,
            gaps=[g.to_json() for g in gaps],
            seconds=seconds,
        )
        # Only once step.done is on disk: a failure before it leaves the step failed, not half done.
        outcome.gaps.extend(gaps)
        self.ctx.outputs[spec.step] = result.output
        self.ctx.outputs[spec.id] = result.output
        mark = step_mark(status, gaps=bool(gaps), summary=result.summary, output=output)
        tail = f" ({folded_count(gaps)} gaps)" if gaps else ""
        if status == INCOMPLETE:
            tail += f"; NOT complete: `irkit resume {self.ctx.case.root}` tries it again"
        self.ctx.echo(f"  {mark} {spec.id}: {result.summary}{tail}")
        return StepOutcome(spec.id, spec.step, status, result.summary, seconds)

    def _fail(self, spec: StepSpec, exc: BaseException, started: float, *, internal: bool = False) -> StepOutcome:
        message = redact_text(str(exc))[:2000]
        if internal:
            message = f"internal error in step {spec.id}: {type(exc).__name__}: {message}"
        self.ctx.journal.append(
            "step.failed", step=spec.id, type=spec.step, error=message, error_type=type(exc).__name__
        )
        self.ctx.echo(f"  ✗ {spec.id} failed: {message}")
        return StepOutcome(spec.id, spec.step, "failed", message, round(time.monotonic() - started, 3))

    def _echo_plan(self, plan: Plan) -> None:
        for action in plan.actions:
            self.ctx.echo(f"    - {action.kind} {action.target}" + (f": {action.detail}" if action.detail else ""))
        for note in plan.notes:
            self.ctx.echo(f"    note: {note}")

    # -- resume ---------------------------------------------------------------------------------

    def _completed_steps(self) -> dict[str, Mapping[str, Any]]:
        """Steps whose last attempt finished and achieved its purpose (an incomplete one is not done)."""
        last: dict[str, Mapping[str, Any]] = {}
        for entry in self.ctx.journal.entries():
            if entry["kind"] in TERMINAL and entry.get("step"):
                last[str(entry["step"])] = entry
        return {
            step: entry["data"]
            for step, entry in last.items()
            if entry["kind"] == "step.done" and entry["data"].get("status") != INCOMPLETE
        }

    def _open_steps(self) -> list[str]:
        """Steps whose last start has no outcome after it (the process died in the step)."""
        open_: dict[str, bool] = {}
        for entry in self.ctx.journal.entries():
            step = entry.get("step")
            if not step:
                continue
            if entry["kind"] == "step.start":
                open_[str(step)] = True
            elif entry["kind"] in TERMINAL or entry["kind"] == "step.awaiting_approval":
                open_[str(step)] = False  # (a step waiting for approval did not die: it waits)
        return [s for s, is_open in open_.items() if is_open]

    def _reads_rerun(self, spec: StepSpec, reran: set[str]) -> bool:
        reads = READS.get(_canonical(spec.step), frozenset())
        return bool(reran) and ("*" in reads or bool(reads & {_canonical(s) for s in reran}))

    def _unfinished_actions(self, step_id: str) -> list[Mapping[str, Any]]:
        """Actions of ``step_id`` journaled as started and never as done, failed or interrupted."""
        pending: dict[bytes, list[Mapping[str, Any]]] = {}
        for entry in self.ctx.journal.entries():
            action = entry["data"].get("action") if entry.get("step") == step_id else None
            if not isinstance(action, dict):
                continue
            key = orjson.dumps(action, option=orjson.OPT_SORT_KEYS)
            if entry["kind"] == "action.start":
                pending.setdefault(key, []).append(action)
            elif entry["kind"] in {"action.done", "action.failed", "action.interrupted"} and pending.get(key):
                pending[key].pop()
        return [a for started in pending.values() for a in started]

    def _restore_output(self, spec: StepSpec, entry: Mapping[str, Any]) -> None:
        output = entry.get("output", {})
        self.ctx.outputs[spec.step] = output
        self.ctx.outputs[spec.id] = output


def step_mark(status: str, *, gaps: bool, summary: str = "", output: Mapping[str, Any] | None = None) -> str:
    """✓ only for a step that succeeded without gaps; ! done with gaps; ✗ failed, refused, incomplete,
    or a check that found the evidence broken (verify: integrity problems)."""
    if status in {"failed", "declined", INCOMPLETE} or summary.startswith("refused"):
        return "✗"
    if output is not None and output.get("ok") is False and output.get("problems"):
        return "✗"
    if status == "planned":
        return "·"
    return "!" if gaps else "✓"


def _canonical(step_type: str) -> str:
    """The step type's name now (``revoke`` in an old journal → ``contain``)."""
    return canonical_step(step_type)
