"""Contain the agent's own principals, first, before any log is read.

```yaml
- step: contain             # `revoke` is accepted too (its old name)
  id: contain
  with: {max_actions: 200, lock_trust: true, workers: 8}
```
For each IAM user in the agent's inventory: every access key → ``Inactive`` (never deleted: keys are
evidence and ``irkit restore`` can re-activate them), an inline deny on ``aws:TokenIssueTime`` that
kills the temporary credentials derived from the user, the console login profile removed; its MFA
devices are listed. For each role: the ``AWSRevokeOlderSessions`` inline policy, and its trust policy
replaced by one that allows nobody (the original is in the snapshot), which also stops instance
profiles from handing out new credentials. Service-linked roles are refused. Every principal is
snapshotted (``snapshots/``) before it is touched and tagged ``irkit:case=<case id>``.

``plan()`` only reads what to do (the principals' keys, console logins, trust). ``apply()`` takes
the principals in turn, users with access keys first, ``workers`` of them side by side: each is
snapshotted (journaled), cut, and read again. The output says, per action row (``contained`` rows)
and per principal (``principals``), ``status``: ``contained`` only when the re-read shows it, else
``NOT contained: <why>`` with a gap; a principal that could not be planned or was refused has a row
too. ``complete`` is true only when every principal is contained. The step records
``time_to_contain_seconds``; ``max_actions`` defaults to the run's ``--max-actions``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from irkit.aws.session import aws_call
from irkit.config import Principal
from irkit.contain.actions import (
    MUTATING_PERMISSIONS,
    PROPAGATION_NOTE,
    ROLE_POLICY,
    TRUST_NOTE,
    USER_POLICY,
    TargetPlan,
    deny_older_sessions,
    plan_target,
)
from irkit.contain.calls import urgent
from irkit.contain.runner import DEFAULT_WORKERS, ContainResult, bounded_map, contain, not_planned
from irkit.contain.snapshot import SNAPSHOT_PERMISSIONS, take_snapshot
from irkit.contain.targets import Refused, Target
from irkit.core.context import RunContext
from irkit.core.plan import Plan, StepResult
from irkit.errors import AwsCallError
from irkit.gaps import Gap
from irkit.steps.base import Option, Step, register

__all__ = [
    "PROPAGATION_NOTE",
    "ROLE_POLICY",
    "USER_POLICY",
    "Contain",
    "deny_older_sessions",
    "snapshot_principal",
]

_SESSION = re.compile(r"^arn:aws[a-z-]*:sts::(\d{12}):assumed-role/([^/]+)/")

CONTAIN_PERMISSIONS = tuple(dict.fromkeys(SNAPSHOT_PERMISSIONS + MUTATING_PERMISSIONS))


def snapshot_principal(iam: Any, p: Principal) -> dict[str, Any]:
    """Kept for callers of the skeleton: see :func:`irkit.contain.snapshot.take_snapshot`."""
    return take_snapshot(iam, p)


def max_actions(ctx: RunContext, opts: Any) -> int:
    value = opts.get("max_actions")
    return int(value) if value is not None else int(ctx.case.meta.max_actions)


@dataclass(frozen=True, slots=True)
class Planned:
    """What planning the targets gave: plans, gaps, notes, and the targets that could not be planned."""

    plans: list[TargetPlan]
    gaps: list[Gap]
    notes: list[str]
    unplanned: list[tuple[Target, str]]
    """Each with why: a refusal or a failed read. They are NOT contained, and their rows say so."""


def plan_targets(
    ctx: RunContext,
    step_id: str,
    targets: Sequence[Target],
    *,
    lock_trust: bool,
    workers: int = DEFAULT_WORKERS,
) -> Planned:
    """Plan every target (reads only, in parallel); refusals and failed reads become gaps and notes."""
    iam = urgent(ctx.aws)
    # Who irkit runs as is asked while the targets are read, not before: one round trip less
    # between the page and the first key going Inactive.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="irkit-caller") as pool:
        caller = pool.submit(caller_arn, ctx)

        def one(target: Target) -> TargetPlan | Gap:
            try:
                plan = plan_target(iam, target, case_id=ctx.case.case_id, lock_trust=lock_trust)
                me = caller.result()
                if me and is_self(target.principal, me):
                    raise Refused(target.arn, f"irkit runs as {me}: containing it would stop containment halfway")
                return plan
            except Refused as exc:
                return Gap(exc.arn, f"refused: {exc.reason}")
            except AwsCallError as exc:
                return Gap(
                    f"{exc.action} on {exc.resource}", f"{exc.code}: cannot plan containment of {target.arn}"
                )

        outcomes = bounded_map(one, list(targets), workers=workers)
        me = caller.result()
    unknown = [] if me else ["could not tell which principal irkit runs as (sts:GetCallerIdentity failed)"]
    planned = Planned([], [], unknown, [])
    for target, outcome in zip(targets, outcomes, strict=True):
        if isinstance(outcome, Gap):
            planned.gaps.append(outcome)
            if outcome.reason.startswith("refused: "):
                planned.notes.append(f"refused {outcome.path}: {outcome.reason.removeprefix('refused: ')}")
                planned.unplanned.append((target, outcome.reason))
            else:
                code = outcome.reason.split(":", 1)[0]
                planned.unplanned.append((target, f"{outcome.path}: {code}, containment not planned"))
        else:
            planned.plans.append(outcome)
            planned.notes.extend(fact_notes(outcome.target.arn, outcome.facts))
    return planned


def unplanned_json(planned: Planned) -> list[dict[str, Any]]:
    return [{"target": t.to_json(), "reason": why} for t, why in planned.unplanned]


def unplanned_of(plan: Plan) -> list[tuple[Target, str]]:
    return [(Target.from_json(u["target"]), str(u["reason"])) for u in plan.data.get("unplanned", [])]


def caller_arn(ctx: RunContext) -> str:
    """Who irkit runs as (``sts:GetCallerIdentity`` needs no permission); '' when unknown."""
    sts = urgent(ctx.aws, "sts")
    try:
        return str(aws_call("sts:GetCallerIdentity", "caller", sts.get_caller_identity)["Arn"])
    except AwsCallError:
        return ""


def is_self(p: Principal, caller: str) -> bool:
    """Is ``caller`` (a user ARN or an assumed-role session ARN) the principal ``p``?"""
    if caller == p.arn:
        return True
    m = _SESSION.match(caller)
    return bool(m and p.kind == "role" and m.group(1) == p.account and m.group(2) == p.name)


def fact_notes(arn: str, facts: dict[str, Any]) -> list[str]:
    notes = []
    if facts.get("mfa_devices"):
        notes.append(
            f"{arn} has MFA devices {', '.join(facts['mfa_devices'])} (left in place; listed for review)"
        )
    if facts.get("instance_profiles"):
        notes.append(
            f"{arn} is carried by instance profiles {', '.join(facts['instance_profiles'])}: "
            "their sessions are revoked with the role's; the trust lock stops EC2 from refreshing them"
        )
    if facts.get("missing_keys"):
        notes.append(
            f"{arn}: access keys {', '.join(facts['missing_keys'])} no longer exist (deleted already?)"
        )
    return notes


def over_cap_principals(targets: Sequence[Target], gap: Gap) -> list[dict[str, Any]]:
    return [not_planned(t, f"nothing applied: {gap.reason}")[1] for t in targets]


def over_cap_gap(step_id: str, count: int, cap: int) -> Gap:
    return Gap(
        step_id,
        f"{count} actions exceed max_actions={cap}: nothing applied "
        f"(to proceed: irkit resume CASE --max-actions {count})",
    )


def containment_output(result: ContainResult, cutoff: datetime, plan: Plan) -> dict[str, Any]:
    """The step output. Per row and per principal ``status`` (``contained`` only when re-read so),
    ``verified``; ``complete`` only when every principal of the step is contained."""
    rows, principals = list(result.rows), list(result.principals)
    for target, why in unplanned_of(plan):
        row, entry = not_planned(target, why)
        rows.append(row)
        principals.append(entry)
    return {
        "contained": rows,
        "principals": principals,
        "complete": all(p["verified"] for p in principals),
        "cutoff": cutoff.isoformat(timespec="seconds"),
        "time_to_contain_seconds": result.seconds,
        "snapshots": result.snapshots,
        "facts": dict(plan.data.get("facts", {})),
        "notes": list(plan.notes),
    }


def principal_clause(principals: Sequence[Mapping[str, Any]]) -> str:
    """``""`` when every principal is contained, else ``; NOT contained: 1 of 2 principals (arn…)``."""
    bad = [str(p["principal"]) for p in principals if not p.get("verified")]
    if not bad:
        return ""
    named = ", ".join(bad[:3]) + (f" and {len(bad) - 3} more" if len(bad) > 3 else "")
    return f"; NOT contained: {len(bad)} of {len(principals)} principals ({named})"


@register
class Contain(Step):
    name = "contain"
    summary = (
        "Keys inactive, sessions revoked, trust locked, console login removed: the agent's own principals."
    )
    mutates = True
    permissions = CONTAIN_PERMISSIONS
    options = {
        "max_actions": Option(
            int, None, "refuse to act when the plan has more actions (default: --max-actions)", minimum=0
        ),
        "lock_trust": Option(bool, True, "replace each role's trust policy by one that allows nobody"),
        "workers": Option(int, DEFAULT_WORKERS, "principals contained in parallel", minimum=1),
    }

    def targets(self, ctx: RunContext) -> list[Target]:
        return [Target(p, origin="inventory") for p in ctx.agent.principals]

    def plan(self, ctx: RunContext) -> Plan:
        planned = plan_targets(
            ctx,
            self.step_id,
            self.targets(ctx),
            lock_trust=bool(self.opts["lock_trust"]),
            workers=int(self.opts["workers"]),
        )
        actions = [a for tp in planned.plans for a in tp.actions]
        cap = max_actions(ctx, self.opts)
        notes = [PROPAGATION_NOTE, TRUST_NOTE, *planned.notes]
        if len(actions) > cap:
            notes.append(f"plan has {len(actions)} actions, over max_actions={cap}: nothing will be applied")
        data = {"facts": {tp.target.arn: tp.facts for tp in planned.plans}, "unplanned": unplanned_json(planned)}
        return Plan(self.step_id, tuple(actions), tuple(notes), tuple(planned.gaps), data)

    def apply(self, ctx: RunContext, plan: Plan) -> StepResult:
        cap = max_actions(ctx, self.opts)
        if len(plan.actions) > cap:
            gap = over_cap_gap(self.step_id, len(plan.actions), cap)
            return StepResult(
                "refused: too many actions; NOT contained",
                {"contained": [], "principals": over_cap_principals(self.targets(ctx), gap), "complete": False},
                (gap,),
            )
        cutoff = datetime.now(UTC)
        result = contain(
            ctx,
            self.step_id,
            self.targets(ctx),
            plan.actions,
            cutoff=cutoff,
            workers=int(self.opts["workers"]),
        )
        ctx.journal.append(
            "containment.timing", step=self.step_id, seconds=result.seconds, actions=len(result.rows)
        )
        output = containment_output(result, cutoff, plan)
        done = sum(1 for r in result.rows if r["verified"])
        return StepResult(
            f"{done}/{len(result.rows)} containment actions verified in {result.seconds:.2f} s"
            + principal_clause(output["principals"]),
            output,
            tuple(result.gaps),
        )
