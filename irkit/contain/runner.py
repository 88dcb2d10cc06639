"""Contain many principals at once: each snapshotted, cut and re-read in turn, keys first.

Per principal the order is fixed: its snapshot is written and journaled, then its credentials in
use are cut (access keys first, then sessions, trust, console login, the tag), then IAM is read
again and each change is verified. A principal is never changed before its snapshot is on disk, and
no principal waits for another one's snapshot: under throttling the first key goes ``Inactive``
after one principal's reads, not after everybody's. Principals run side by side (``workers``),
users with access keys to cut first; every IAM call goes through :class:`~.calls.Persistent`
(bounded in flight, persistent under throttling).

A failed call (a missing permission, say) becomes a gap naming the action and resource, and every
other action and principal still goes ahead. Every row and every principal carries its ``status``:
``contained`` only when the re-read shows it, else ``NOT contained: <why>`` with a gap.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from irkit.contain.actions import ORDER, credential_of, execute
from irkit.contain.calls import DEFAULT_WORKERS, Persistent, bounded_map
from irkit.contain.snapshot import snapshot_file, take_snapshot
from irkit.contain.targets import Target
from irkit.contain.verdict import NOT_CONTAINED, Observed, holds, observe, problems, status
from irkit.core.context import RunContext
from irkit.core.plan import Action
from irkit.errors import AwsCallError
from irkit.gaps import Gap

__all__ = ["DEFAULT_WORKERS", "ContainResult", "bounded_map", "contain", "not_planned", "priority"]

SETTLE = (0.5, 1.0, 2.0)
"""Pauses before reading a principal again when a change does not show yet (IAM is eventually
consistent): a change is called NOT contained only after these, never from one early read."""


@dataclass
class ContainResult:
    rows: list[dict[str, Any]] = field(default_factory=list)
    """One a planned action: principal, credential, action, applied, verified, status, time."""
    principals: list[dict[str, Any]] = field(default_factory=list)
    """One a principal: principal, kind, origin, verified, status, snapshot."""
    gaps: list[Gap] = field(default_factory=list)
    snapshots: list[str] = field(default_factory=list)
    observed: dict[str, Observed] = field(default_factory=dict)
    """The re-read each principal's verdict came from (by ARN)."""
    seconds: float = 0.0


def priority(target: Target | None, actions: Sequence[Action]) -> tuple[int, int]:
    """Who goes first: principals with access keys to cut (most keys first), then roles' sessions."""
    keys = sum(1 for a in actions if a.kind == "deactivate-access-key")
    if keys:
        return (0, -keys)
    if any(a.kind in ("revoke-role-sessions", "deny-user-sessions") for a in actions):
        return (1, 0)
    return (2, 0)


def cutoff_text(cutoff: datetime) -> str:
    """The cutoff as the session deny policy writes it (whole seconds, UTC)."""
    return cutoff.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def not_planned(target: Target | str, reason: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The row and the principal entry of a principal the step could not plan, or refused."""
    arn = target if isinstance(target, str) else target.arn
    kind = "" if isinstance(target, str) else target.principal.kind
    origin = "" if isinstance(target, str) else target.origin
    state = f"{NOT_CONTAINED}: {reason}"
    row = {
        "principal": arn,
        "credential": "every credential",
        "action": "none (not planned)",
        "applied": False,
        "verified": False,
        "status": state,
        "time": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    return row, {"principal": arn, "kind": kind, "origin": origin, "verified": False, "status": state,
                 "snapshot": None}  # fmt: skip


@dataclass
class _Outcome:
    rows: list[dict[str, Any]] = field(default_factory=list)
    principal: dict[str, Any] = field(default_factory=dict)
    gaps: list[Gap] = field(default_factory=list)
    snapshot: str | None = None
    observed: Observed | None = None


def contain(
    ctx: RunContext,
    step_id: str,
    targets: Sequence[Target],
    actions: Sequence[Action],
    *,
    cutoff: datetime,
    workers: int = DEFAULT_WORKERS,
    sleep: Callable[[float], None] = time.sleep,
) -> ContainResult:
    """Per principal (side by side, keys first): snapshot, act, re-read and verify."""
    started = time.monotonic()
    iam = Persistent(ctx.aws.client("iam", urgent=True), sleep=sleep)
    by_arn = {t.arn: t for t in targets}
    groups: dict[str, list[Action]] = {}
    for action in actions:
        groups.setdefault(action.target, []).append(action)
    for group in groups.values():
        group.sort(key=lambda a: ORDER.index(a.kind) if a.kind in ORDER else len(ORDER))
    order = sorted(groups, key=lambda arn: priority(by_arn.get(arn), groups[arn]))
    since = cutoff_text(cutoff)

    def one(arn: str) -> _Outcome:
        target = by_arn.get(arn)
        if target is None:  # an approved plan names a principal this run does not know: refuse
            reason = "not a containment target of this step: left untouched"
            row, entry = not_planned(arn, reason)
            return _Outcome([row], entry, [Gap(arn, reason)])
        name = snapshot_file(target.principal)
        try:
            if ctx.case.read_json(name) is None:  # the first snapshot is the one that counts
                snap = take_snapshot(iam, target.principal, origin=target.origin, case_id=ctx.case.case_id)
                snap["proof"] = list(target.proof)
                ctx.case.write_json(name, snap)
                ctx.journal.append("snapshot.saved", step=step_id, principal=arn, file=name)
        except AwsCallError as exc:
            reason = f"snapshot failed ({exc.action} {exc.code}), left untouched"
            row, entry = not_planned(target, reason)
            row["action"] = "none (no snapshot)"
            entry["kind"], entry["origin"] = target.principal.kind, target.origin
            return _Outcome([row], entry, [Gap(arn, f"snapshot failed, principal left untouched: {exc}")])
        errors: dict[int, str] = {}
        gaps: list[Gap] = []
        times: list[str] = []
        for i, action in enumerate(groups[arn]):
            try:
                ctx.act(step_id, action, lambda a=action: execute(iam, a, cutoff))  # type: ignore[misc]
            except AwsCallError as exc:
                if not (action.kind == "delete-login-profile" and exc.code == "NoSuchEntity"):
                    # (a console password already gone is what this action wants: the re-read decides)
                    errors[i] = f"{exc.action} {exc.code}: not applied"
                    gaps.append(Gap(f"{exc.action} on {exc.resource}", f"{exc.code}: not applied ({action.kind})"))
            times.append(datetime.now(UTC).isoformat(timespec="seconds"))
        seen, verdicts, issues = _verify(iam, target, groups[arn], set(errors), since, sleep)
        rows: list[dict[str, Any]] = []
        unmet: list[str] = []
        for i, action in enumerate(groups[arn]):
            ok, why = verdicts[i]
            applied = i not in errors
            why = errors.get(i, why)
            if applied and not ok:
                gaps.append(Gap(f"{action.kind} on {arn}", f"not verified: {why}"))
            good, bad = ("done", "NOT done") if action.kind == "tag-principal" else ("contained", NOT_CONTAINED)
            if not ok and action.kind != "tag-principal":  # the tag is bookkeeping, not containment
                unmet.append(why)
            rows.append(
                {
                    "principal": arn,
                    "credential": credential_of(action),
                    "action": action.kind,
                    "applied": applied,
                    "verified": ok,
                    "status": good if ok else f"{bad}: {why}",
                    "time": times[i],
                }
            )
        # An issue an action's row already accounts for (its key still Active, say) is not a second gap.
        explained = {why for ok, why in verdicts if not ok}
        gaps.extend(Gap(arn, issue) for issue in issues if issue not in explained)
        state = status(unmet + issues)
        entry = {
            "principal": arn,
            "kind": target.principal.kind,
            "origin": target.origin,
            "verified": state == "contained",
            "status": state,
            "snapshot": name,
        }
        return _Outcome(rows, entry, gaps, name, seen)

    result = ContainResult()
    for outcome in bounded_map(one, order, workers=workers):
        result.rows.extend(outcome.rows)
        result.principals.append(outcome.principal)
        result.gaps.extend(outcome.gaps)
        if outcome.snapshot:
            result.snapshots.append(outcome.snapshot)
        if outcome.observed is not None:
            result.observed[outcome.principal["principal"]] = outcome.observed
    result.seconds = round(time.monotonic() - started, 3)
    return result


def _verify(
    iam: Any,
    target: Target,
    actions: Sequence[Action],
    failed: set[int],
    since: str,
    sleep: Callable[[float], None],
) -> tuple[Observed, list[tuple[bool, str]], list[str]]:
    """Re-read the principal until every applied change shows, or the settle pauses are spent (bounded)."""
    for pause in (*SETTLE, None):
        seen = observe(iam, target.principal)
        verdicts = [holds(a, seen, cutoff=since) for a in actions]
        issues = problems(target, seen, actions, cutoff=since)
        unseen = [i for i, (ok, _) in enumerate(verdicts) if not ok and i not in failed]
        if not unseen or seen.unread or pause is None:
            return seen, verdicts, issues
        sleep(pause)
    raise AssertionError("unreachable")  # pragma: no cover
