"""Carry out an approved revert plan, exactly: nothing is re-planned, everything is re-read after.

Order: time-boxed undos first (a key's deletion window, a secret's recovery window), then the revert
branch adopted by the responder's repository (and pushed, only when asked), then each terraform root's
approved plan file (refused if its SHA-256 differs; a stale plan is reported, never retried) and its
convergence check, then the other compensating calls newest change first, then the fallback of each
terraform-managed change that the apply left in place. Every change's resource is snapshotted before
its first call, every call is journaled before and after, and every change is verified by reading the
world again: its status is what that read says, nothing else.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial
from pathlib import Path
from typing import Any

from irkit.contain.restore import REVERT_SNAPSHOT_PREFIX
from irkit.core.context import RunContext
from irkit.core.plan import Action, Plan, StepResult
from irkit.errors import AwsCallError, IrkitError
from irkit.gaps import Gap
from irkit.iac.git import GitRepo, ScratchRepo
from irkit.iac.terraform import Terraform
from irkit.revert.calls import execute
from irkit.revert.evidence import read_case_events
from irkit.revert.inverses import all_inverses, inverse_for
from irkit.revert.model import PlanContext, Reversibility
from irkit.revert.planner import PlannedChange, RevertOptions, _terraform_env, order, plan_context


def over_cap(plan: Plan, cap: int) -> bool:
    return len(plan.actions) > cap


class _Run:
    def __init__(self, ctx: RunContext, step_id: str, plan: Plan) -> None:
        self.ctx = ctx
        self.step_id = step_id
        self.data: Mapping[str, Any] = plan.data.get("revert") or {}
        self.options = RevertOptions(**dict(self.data.get("options") or {}))
        self.changes = [PlannedChange.from_json(c) for c in self.data.get("changes") or []]
        self.iac: Mapping[str, Any] = self.data.get("iac") or {}
        self.gaps: list[Gap] = []
        self.rows: dict[str, dict[str, Any]] = {}
        names = {n for inv in all_inverses().values() for n in inv.before_events}
        # The before-images are read from the evidence again (it is immutable): a resumed run verifies
        # against exactly what the plan was made from.
        events = read_case_events(ctx.case.root, names) if any(p.undo.before_source for p in self.changes) else None
        self.pctx: PlanContext = plan_context(ctx, self.options, events)
        self.git: dict[str, Any] = {"status": "none"}
        self.terraform: list[dict[str, Any]] = []
        self.applied_roots: set[str] = set()

    # -- one change ------------------------------------------------------------------------------

    def undo(self, planned: PlannedChange, *, fallback: bool = False) -> None:
        change = planned.change
        row = self.rows.setdefault(change.event_id, {"calls": []})
        if not planned.undo.calls:
            return
        inverse = inverse_for(change.event_name)
        if inverse is None:
            self.gaps.append(Gap(change.event_name, "no registered inverse any more: not applied"))
            return
        name = f"snapshots/{REVERT_SNAPSHOT_PREFIX}{change.event_id}.json"  # restore skips these
        if self.ctx.case.read_json(name) is None:
            try:
                snap = dict(inverse.snapshot(change, self.pctx))
            except AwsCallError as exc:
                self.gaps.append(Gap(f"{exc.action} on {exc.resource}", f"{exc.code}: snapshot failed, left untouched"))
                row["calls"] = [{"op": c.op, "detail": c.detail, "outcome": "skipped"} for c in planned.undo.calls]
                return
            self.ctx.case.write_json(name, {"change": change.to_json(), "before": snap})
            self.ctx.journal.append("snapshot.saved", step=self.step_id, resource=change.resource, file=name)
        row["snapshot"] = name
        calls: list[dict[str, Any]] = []
        failed = False
        for i, call in enumerate(planned.undo.calls):
            entry: dict[str, Any] = {"op": call.op, "region": call.region, "detail": call.detail, "fallback": fallback}
            if failed:
                calls.append(entry | {"outcome": "skipped"})
                continue
            action = Action(call.op, change.resource, call.detail, {"event_id": change.event_id, "call": i})
            try:
                outcome = self.ctx.act(self.step_id, action, lambda c=call: execute(self.pctx.client, c))  # type: ignore[misc]
            except AwsCallError as exc:
                failed = True
                self.gaps.append(
                    Gap(f"{exc.action} on {exc.resource}", f"{exc.code}: not applied ({change.event_name} undo)")
                )
                calls.append(entry | {"outcome": "failed", "error": exc.code})
                continue
            calls.append(entry | {"outcome": outcome})
        row["calls"] = list(row.get("calls", [])) + calls

    # -- git and terraform -----------------------------------------------------------------------

    def adopt_branch(self) -> None:
        iac = self.iac
        commits = iac.get("commits") or []
        reverted = [c for c in commits if (c.get("outcome") or {}).get("status") == "reverted"]
        self.git = {
            "repo": iac.get("repo"),
            "branch": iac.get("branch"),
            "base": iac.get("base"),
            "base_sha": iac.get("base_sha"),
            "head": iac.get("head"),
            "status": "none",
            "pushed": False,
        }
        if not reverted or not iac.get("repo") or not iac.get("scratch"):
            return
        conflict = next((c for c in commits if (c.get("outcome") or {}).get("status") == "conflict"), None)
        action = Action("git-branch", str(iac["repo"]), f"create {iac['branch']} at {str(iac['head'])[:12]}")
        try:
            repo = GitRepo(Path(str(iac["repo"])), dry_run=self.ctx.dry_run)
            scratch = ScratchRepo(Path(str(iac["scratch"])))
            status = self.ctx.act(
                self.step_id, action, lambda: repo.adopt_branch(scratch, str(iac["branch"]), str(iac["head"]))
            )
        except IrkitError as exc:
            self.git["status"] = "failed"
            self.gaps.append(Gap(str(iac["repo"]), f"the revert branch was not created: {exc}"))
            return
        self.git["status"] = "conflict" if conflict else status
        if conflict:
            self.git["conflicts"] = list((conflict.get("outcome") or {}).get("conflicts") or [])
            self.gaps.append(
                Gap(
                    str(iac["repo"]),
                    f"{iac['branch']} stops before {str(conflict['sha'])[:12]}: conflicts in "
                    f"{', '.join(self.git['conflicts'])}; finish the revert by hand",
                )
            )
        remote = self.ctx.agent.git.remote if self.ctx.agent.git else None
        if self.options.push and remote:
            push = Action("git-push", remote, f"push {iac['branch']} (never forced)")
            try:
                self.ctx.act(self.step_id, push, lambda: repo.push(remote, str(iac["branch"])))
                self.git["pushed"] = True
            except IrkitError as exc:
                self.gaps.append(Gap(remote, f"push failed: {exc}"))
        elif self.options.push:
            self.gaps.append(Gap(str(iac["repo"]), "push asked, but agents.<name>.git.remote is not set"))

    def apply_terraform(self) -> None:
        tf_cfg = self.ctx.agent.terraform
        for root in self.iac.get("roots") or []:
            plan = root.get("plan") or {}
            row: dict[str, Any] = {
                "dir": root.get("dir"),
                "plan": plan.get("path"),
                "sha256": plan.get("sha256"),
                "counts": plan.get("counts", {}),
                "changes": plan.get("changes", []),
                "status": "no changes",
                "converged": None,
                "convergence": "",
                "refused": root.get("refused", ""),
                "notes": root.get("notes", []),
            }
            self.terraform.append(row)
            if root.get("refused"):
                row["status"] = "refused"
                continue
            if not plan.get("changes"):
                self.applied_roots.add(str(root.get("dir")))
                continue
            if tf_cfg is None:
                row["status"] = "skipped"
                self.gaps.append(Gap(str(root.get("dir")), "terraform is no longer configured: not applied"))
                continue
            state = Path(root["state"]) if root.get("state") else None
            action = Action(
                "terraform-apply", str(root["dir"]), f"apply {Path(str(plan['path'])).name}", {"sha256": plan["sha256"]}
            )
            try:
                tf = Terraform(
                    Path(str(root["workdir"])),
                    binary=tf_cfg.binary,
                    env=_terraform_env(self.ctx),
                    state=state,
                    dry_run=self.ctx.dry_run,
                )
                plan_file, digest = Path(str(plan["path"])), str(plan["sha256"])
                result = self.ctx.act(self.step_id, action, partial(tf.apply, plan_file, sha256=digest))
                converged, why = tf.converged()
            except IrkitError as exc:
                row["status"] = "failed"
                self.gaps.append(Gap(str(root["dir"]), f"terraform apply refused or failed: {exc}"))
                continue
            row["status"], row["message"] = result.status, result.message
            row["converged"], row["convergence"] = converged, why
            if result.status == "stale" and converged:
                row["status"] = "converged"
                row["message"] = "the plan was stale (the state changed after it) and the state now matches the revert"
            if row["status"] in ("applied", "converged"):
                self.applied_roots.add(str(root["dir"]))
            if result.status == "stale" and not converged:
                self.gaps.append(
                    Gap(str(root["dir"]), "terraform plan is stale: run `irkit revert CASE` to plan and approve again")
                )
            elif result.status == "failed":
                self.gaps.append(Gap(str(root["dir"]), f"terraform apply failed: {result.message}"))
            elif not converged:
                self.gaps.append(Gap(str(root["dir"]), f"terraform did not converge after the apply: {why}"))

    # -- the whole run ---------------------------------------------------------------------------

    def run(self) -> StepResult:
        timed = [p for p in order(self.changes) if p.reversibility == str(Reversibility.TIME_BOXED)]
        for planned in timed:
            if planned.path == "api" and not planned.covered_by:
                self.undo(planned)
        if self.iac:
            self.adopt_branch()
            self.apply_terraform()
        for planned in order(self.changes):
            if planned.path == "api" and not planned.covered_by and planned not in timed:
                self.undo(planned)
        for planned in order(self.changes):
            if planned.path != "iac" or planned.covered_by:
                continue
            root = planned.managed_by.rsplit(":", 1)[0]
            if root not in self.applied_roots:
                continue  # terraform did not apply: a gap says why; the API is not used behind its back
            verdict = self._verify(planned)
            if verdict["status"] == "present":
                self.undo(planned, fallback=True)
        return self._result()

    def _verify(self, planned: PlannedChange) -> dict[str, str]:
        inverse = inverse_for(planned.change.event_name)
        if inverse is None:
            return {"status": "unknown", "detail": "no registered inverse"}
        try:
            return inverse.verify(planned.change, self.pctx).to_json()
        except AwsCallError as exc:
            self.gaps.append(Gap(f"{exc.action} on {exc.resource}", f"{exc.code}: could not verify the undo"))
            return {"status": "unknown", "detail": f"could not re-read: {exc.code}"}

    def _result(self) -> StepResult:
        out: list[dict[str, Any]] = []
        for planned in self.changes:
            c = planned.change
            verdict = self._verify(planned)
            row = self.rows.get(c.event_id, {})
            if verdict["status"] == "present":
                self.gaps.append(Gap(c.resource, f"still changed after the revert: {verdict['detail']}"))
            out.append(
                {
                    "event_id": c.event_id,
                    "event_name": c.event_name,
                    "event_time": c.event_time,
                    "region": c.region,
                    "resource": c.resource,
                    "actor": c.actor,
                    "attribution": c.attribution,
                    "rules": list(c.rules),
                    "path": planned.path,
                    "managed_by": planned.managed_by,
                    "covered_by": planned.covered_by,
                    "reversibility": planned.reversibility,
                    "planned": planned.status,
                    "undo": [call.detail or call.op for call in planned.undo.calls],
                    "exact": planned.undo.exact,
                    "before_source": planned.undo.before_source,
                    "notes": list(planned.undo.notes),
                    "calls": row.get("calls", []),
                    "snapshot": row.get("snapshot"),
                    "status": verdict["status"],
                    "verified": verdict["status"] == "undone",
                    "verification": verdict["detail"],
                }
            )
        commits = [
            {
                **{
                    k: c.get(k)
                    for k in ("sha", "summary", "author", "committer", "matched_by", "pipeline", "merge", "covered_by")
                },
                **{k: (c.get("outcome") or {}).get(k) for k in ("status", "revert_sha", "conflicts")},
            }
            for c in self.iac.get("commits") or []
        ]
        counts = {s: sum(1 for r in out if r["status"] == s) for s in ("undone", "present", "lost", "unknown")}
        summary = f"{counts['undone']}/{len(out)} changes undone and verified"
        if counts["present"]:
            summary += f", {counts['present']} still present"
        if counts["lost"]:
            summary += f", {counts['lost']} not reversible"
        if commits:
            reverted = sum(1 for c in commits if c["status"] == "reverted")
            summary += f"; {reverted} commit(s) reverted on {self.git.get('branch')} ({self.git['status']})"
        for row in self.terraform:
            summary += f"; terraform {Path(str(row['dir'])).name}: {row['status']}"
        output = {
            "changes": out,
            "commits": commits,
            "git": self.git,
            "terraform": self.terraform,
            "unknown": list(self.data.get("unknown") or []),
            "unknown_total": self.data.get("unknown_total", len(self.data.get("unknown") or [])),
            "collapsed": list(self.data.get("collapsed") or []),
            "summary": counts | {"changes": len(out)},
        }
        return StepResult(summary, output, tuple(dict.fromkeys(self.gaps)))


def apply_revert(ctx: RunContext, step_id: str, plan: Plan, *, max_actions: int) -> StepResult:
    if over_cap(plan, max_actions):
        gap = Gap(
            step_id,
            f"{len(plan.actions)} actions exceed max_actions={max_actions}: nothing applied (raise --max-actions)",
        )
        return StepResult("refused: too many actions", {"changes": [], "commits": [], "terraform": []}, (gap,))
    if "revert" not in plan.data:
        return StepResult("nothing to revert", {"changes": [], "commits": [], "terraform": []})
    return _Run(ctx, step_id, plan).run()
