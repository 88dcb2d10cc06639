"""One reviewed revert plan: commits, terraform changes and API calls, each change with its path.

```python
plan = plan_revert(ctx, "revert", RevertOptions(max_actions=200))   # reads only, writes the case folder
```
Which changes: the events that detection flagged (``findings.json``), attributed to the agent (a
finding only holds the agent's events), successful, and not reads — read again from the evidence by
event id. Each gets the registered inverse of its event name (none: "review by hand", a gap). A
change whose resource a later flagged event deleted (create→delete) needs nothing; a change on a
principal the attacker created is covered by that principal's own undo.

Which path: a change whose resource the terraform state holds (its ids and ARNs, matched against
every value of every managed resource) is *iac*: the approved terraform apply restores it, and its
inverse is kept as a fallback, run only if the resource is still changed after the apply. Every
other change is *api*: its inverse's calls. The plan says which, change by change.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC
from pathlib import Path
from typing import Any

from irkit.core.context import RunContext
from irkit.core.plan import Action, Plan
from irkit.detect.event import Event
from irkit.errors import AwsCallError
from irkit.gaps import Gap, fold
from irkit.iac import IacError
from irkit.iac.terraform import private_dir
from irkit.revert.evidence import CaseEvents, read_case_events
from irkit.revert.iacplan import IacPlan, RootPlan, branch_name, plan_iac, refuse_unlinked
from irkit.revert.inverses import all_inverses, inverse_for
from irkit.revert.keys import event_key
from irkit.revert.model import Change, PlanContext, Reversibility, Undo

READ_PREFIXES = ("Describe", "Get", "List", "Head", "Lookup", "Search", "Select", "BatchGet", "Check")
MAX_UNKNOWN = 50


@dataclass(frozen=True, slots=True)
class RevertOptions:
    max_actions: int = 200
    quarantine_roles: bool = False
    terminate_instances: bool = False
    push: bool = False

    def inverse_options(self) -> dict[str, Any]:
        return {"quarantine_roles": self.quarantine_roles, "terminate_instances": self.terminate_instances}


@dataclass
class PlannedChange:
    change: Change
    reversibility: str
    path: str = "api"
    """api | iac | none"""
    managed_by: str = ""
    undo: Undo = field(default_factory=Undo)
    covered_by: str = ""

    @property
    def status(self) -> str:
        if self.covered_by:
            return "covered"
        return self.undo.status

    def to_json(self) -> dict[str, Any]:
        c = self.change
        return {
            **c.to_json(),
            "reversibility": self.reversibility,
            "path": self.path,
            "managed_by": self.managed_by,
            "covered_by": self.covered_by,
            "status": self.status,
            "undo": self.undo.to_json(),
        }

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> PlannedChange:
        return cls(
            change=Change.from_json(d),
            reversibility=str(d.get("reversibility", "")),
            path=str(d.get("path", "api")),
            managed_by=str(d.get("managed_by", "")),
            undo=Undo.from_json(d.get("undo") or {}),
            covered_by=str(d.get("covered_by", "")),
        )


def is_read(event: Event) -> bool:
    return event.read_only is True or event.event_name.startswith(READ_PREFIXES)


def plan_context(ctx: RunContext, options: RevertOptions, events: CaseEvents | None = None) -> PlanContext:
    aws = ctx.aws
    return PlanContext(
        client=lambda service, region: aws.client(service, region or None),
        case_id=ctx.case.case_id,
        account=ctx.agent.account,
        home_region=ctx.settings.aws.region,
        options=options.inverse_options(),
        earlier=events.earlier.earlier if events is not None else (lambda _c, _n: ()),
    )


def _terraform_env(ctx: RunContext) -> dict[str, str]:
    env = ctx.aws.credential_env()
    tf = ctx.agent.terraform
    if tf is not None and tf.cli_config is not None:
        env["TF_CLI_CONFIG_FILE"] = str(tf.cli_config)
    return env


def work_dir(case_root: Path) -> Path:
    """A fresh ``revert/plan-<n>/`` for this planning (earlier ones stay: what was planned is evidence)."""
    base = private_dir(case_root / "revert")
    n = 1
    while (base / f"plan-{n}").exists():
        n += 1
    return private_dir(base / f"plan-{n}")


def plan_revert(ctx: RunContext, step_id: str, options: RevertOptions) -> Plan:
    gaps: list[Gap] = []
    notes: list[str] = []
    names = {n for inv in all_inverses().values() for n in inv.before_events | inv.cancelled_by}
    names |= set(all_inverses())
    events = read_case_events(ctx.case.root, names)
    gaps.extend(events.gaps)
    pctx = plan_context(ctx, options, events)

    changes, unknown, collapsed = _changes(events)

    iac: IacPlan | None = None
    if ctx.agent.git is not None or ctx.agent.terraform is not None:
        try:
            iac = plan_iac(
                ctx.agent,
                case_id=ctx.case.case_id,
                work=work_dir(ctx.case.root),
                since=ctx.window_start.astimezone(UTC),
                until=ctx.window_end.astimezone(UTC),
                env=_terraform_env(ctx),
                dry_run=ctx.dry_run,
            )
        except IacError as exc:
            gaps.append(Gap("iac", f"the IaC revert could not be planned: {exc}"))
        else:
            gaps.extend(Gap(path, why) for path, why in iac.gaps)
            notes.extend(iac.notes)

    _paths(changes, iac)
    _unknown_paths(unknown, iac)
    loose = [row for row in unknown if not row.get("managed_by")]
    for row in loose[:MAX_UNKNOWN]:
        gaps.append(Gap(f"{row['event_name']} {row['event_id']}", "no registered inverse: review and undo by hand"))
    if len(loose) > MAX_UNKNOWN:
        gaps.append(Gap(step_id, f"{len(loose) - MAX_UNKNOWN} more changes without an inverse (see the plan)"))
    inventory = {p.arn for p in ctx.agent.principals}
    for planned in changes:
        if planned.covered_by or planned.path == "none":
            continue
        if planned.change.resource in inventory:
            # The agent's own principal (it was created in the window): containment holds it, locked
            # and snapshotted; a revert must not delete the evidence of the case itself.
            planned.undo = Undo(status="manual", notes=("one of the agent's own principals: left to containment",))
            what = f"{planned.change.event_name} of an agent principal: not reverted"
            gaps.append(Gap(planned.change.resource, what))
            continue
        inverse = inverse_for(planned.change.event_name)
        assert inverse is not None
        try:
            planned.undo = inverse.plan(planned.change, pctx)
        except AwsCallError as exc:
            planned.undo = Undo(status="manual", notes=(f"could not be planned: {exc.code}",))
            gaps.append(
                Gap(
                    f"{exc.action} on {exc.resource}",
                    f"{exc.code}: cannot plan the undo of {planned.change.event_name}",
                )
            )
    for planned in changes:
        if planned.status == "not reversible":
            gaps.append(
                Gap(
                    planned.change.resource,
                    f"{planned.change.event_name} is not reversible: {'; '.join(planned.undo.notes)}",
                )
            )
        for note in planned.undo.notes:
            if note.startswith("not an exact undo"):
                notes.append(f"{planned.change.event_name} {planned.change.resource}: {note}")
        if planned.undo.before_source.startswith("earlier event"):
            notes.append(
                f"{planned.change.event_name} {planned.change.resource}: before-image from {planned.undo.before_source}"
                " (review it: it comes from the evidence)"
            )

    actions = _actions(changes, iac)
    for root in iac.roots if iac else ():
        if root.refused and root.plan is not None and root.plan.has_changes:
            gaps.append(Gap(str(root.dir), f"terraform not applied: {root.refused}"))
        for c in root.plan.changes if root.plan else ():
            if c.destructive and c.stateful:
                notes.append(f"terraform {root.dir}: DESTROYS {c.address} ({c.type}): its data may be lost")
    if len(actions) > options.max_actions:
        notes.append(
            f"plan has {len(actions)} actions, over max_actions={options.max_actions}: nothing will be applied"
        )
    data = {
        "revert": {
            "case": ctx.case.case_id,
            "options": {
                "max_actions": options.max_actions,
                "quarantine_roles": options.quarantine_roles,
                "terminate_instances": options.terminate_instances,
                "push": options.push,
            },
            "events": events.events,
            "changes": [p.to_json() for p in changes],
            "unknown": unknown[:MAX_UNKNOWN],
            "unknown_total": len(unknown),
            "collapsed": collapsed,
            "iac": iac.to_json() if iac else None,
        }
    }
    return Plan(step_id, tuple(actions), tuple(dict.fromkeys(notes)), tuple(fold(gaps)), data)


def _changes(events: CaseEvents) -> tuple[list[PlannedChange], list[dict[str, str]], list[dict[str, str]]]:
    flagged = [f for f in events.flagged if f.event.succeeded and not is_read(f.event)]
    unknown: list[dict[str, str]] = []
    changes: list[PlannedChange] = []
    for f in flagged:
        inverse = inverse_for(f.event.event_name)
        if inverse is None:
            unknown.append(
                {
                    "event_id": f.event.event_id,
                    "event_name": f.event.event_name,
                    "region": f.event.region,
                    "key": event_key(f.event) or "",
                }
            )
            continue
        change = inverse.change(f.event)
        if change is None:
            unknown.append(
                {
                    "event_id": f.event.event_id,
                    "event_name": f.event.event_name,
                    "region": f.event.region,
                    "key": "the record does not say enough to undo it",
                }
            )
            continue
        change = Change(**{**_fields(change), "attribution": f.attribution, "rules": f.rules})
        changes.append(PlannedChange(change, str(inverse.reversibility)))
    # create → delete by the attacker: nothing left to undo.
    collapsed: list[dict[str, str]] = []
    later = [(f.event, event_key(f.event)) for f in flagged]
    kept = []
    for planned in changes:
        inverse = inverse_for(planned.change.event_name)
        assert inverse is not None
        deleter = next(
            (
                e
                for e, key in later
                if e.event_name in inverse.cancelled_by
                and key == planned.change.key
                and e.event_time > _time(planned.change)
            ),
            None,
        )
        if deleter is not None:
            collapsed.append(
                {
                    "event_id": planned.change.event_id,
                    "event_name": planned.change.event_name,
                    "resource": planned.change.resource,
                    "deleted_by": deleter.event_id,
                }
            )
        else:
            kept.append(planned)
    # A change on a principal the attacker created is undone with it.
    creators = {
        p.change.key: p.change.event_id
        for p in kept
        if (inv := inverse_for(p.change.event_name)) is not None and inv.covers
    }
    for planned in kept:
        owner = planned.change.owner
        if owner and owner in creators and creators[owner] != planned.change.event_id:
            planned.covered_by = creators[owner]
    return kept, unknown, collapsed


def order(changes: list[PlannedChange]) -> list[PlannedChange]:
    """The order undos run in: time-boxed ones first (their windows expire), then newest first."""
    return sorted(
        changes,
        key=lambda p: (p.reversibility != str(Reversibility.TIME_BOXED), -_time(p.change).timestamp()),
    )


def _time(change: Change) -> Any:
    from irkit.detect.event import parse_time

    return parse_time(change.event_time)


def _fields(change: Change) -> dict[str, Any]:
    return {name: getattr(change, name) for name in Change.__dataclass_fields__}


def _paths(changes: list[PlannedChange], iac: IacPlan | None) -> None:
    """iac when a terraform root's state holds the changed resource and that root will be applied."""
    if iac is None:
        return
    resources = iac.state_resources()
    linked: dict[int, list[str]] = {}
    for planned in changes:
        for root, res in resources:
            if any(group and all(v in res.values for v in group) for group in planned.change.match):
                planned.managed_by = f"{root.dir}:{res.address}"
                linked.setdefault(id(root), []).append(res.address)
                break
    for root in iac.roots:
        refuse_unlinked(root, linked.get(id(root), []))
    applied = {str(r.dir) for r in iac.roots if not r.refused and r.plan is not None}
    for planned in changes:
        if planned.managed_by:
            root_dir = planned.managed_by.rsplit(":", 1)[0]
            planned.path = "iac" if root_dir in applied else "api"


_ID = re.compile(r"^(arn:aws[a-z-]*:.+|[a-z]{1,8}-[0-9a-f]{8,})$")


def _unknown_paths(unknown: list[dict[str, str]], iac: IacPlan | None) -> None:
    """An event without an inverse on a resource that an applied terraform root manages (by its
    unique id) is restored by that apply: named as such, not left for a human."""
    if iac is None:
        return
    resources = [(root, res) for root, res in iac.state_resources() if not root.refused]
    for row in unknown:
        ident = row.get("key", "").rsplit(":", 1)[-1]
        if not _ID.match(ident):
            continue
        for root, res in resources:
            if ident in res.values:
                row["managed_by"] = f"{root.dir}:{res.address}"
                row["path"] = "iac"
                break


def _actions(changes: list[PlannedChange], iac: IacPlan | None) -> list[Action]:
    actions: list[Action] = []
    if iac is not None and iac.commits and iac.repo is not None:
        by_sha = {o.sha: o for o in iac.outcomes}
        for c in iac.commits:
            outcome = by_sha.get(c.sha)
            status = outcome.status if outcome else "not attempted"
            if status not in ("reverted", "conflict"):
                continue
            flag = f" [PIPELINE: {'; '.join(c.pipeline)}]" if c.pipeline else ""
            who = c.author if "author" in c.matched_by else c.committer
            detail = f"{c.summary} — {' and '.join(c.matched_by)} {who}{flag}"
            if status == "conflict":
                detail = f"CONFLICT in {', '.join(outcome.conflicts if outcome else ())}: left for a human — {detail}"
            actions.append(Action("git-revert", c.sha, detail, {"sha": c.sha}))
        if iac.reverted:
            actions.append(
                Action(
                    "git-branch",
                    str(iac.repo),
                    f"create {iac.branch} at {iac.head[:12]} from {iac.base}",
                    {"branch": iac.branch, "head": iac.head},
                )
            )
    for root in iac.roots if iac else ():
        plan = root.plan
        if plan is None or not plan.has_changes or root.refused:
            continue
        counts = ", ".join(f"{n} {k}" for k, n in plan.counts().items() if n)
        actions.append(
            Action(
                "terraform-apply",
                str(root.dir),
                f"{counts}; plan sha256 {plan.sha256[:16]}…",
                {"plan": plan.path, "sha256": plan.sha256},
            )
        )
    for planned in order(changes):
        if planned.covered_by:
            continue
        prefix = "if terraform leaves it: " if planned.path == "iac" else ""
        for i, call in enumerate(planned.undo.calls):
            actions.append(
                Action(
                    call.op,
                    planned.change.resource,
                    prefix + call.detail,
                    {"event_id": planned.change.event_id, "call": i},
                )
            )
    return actions


__all__ = ["PlannedChange", "RevertOptions", "RootPlan", "branch_name", "plan_revert"]
