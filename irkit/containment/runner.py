"""Contain many principals at once: snapshot, act, verify; in parallel across principals, bounded.

Per principal the order is fixed (snapshot first, then the credentials in use, then the tag), so a
principal is never changed before its configuration is on disk. Across principals the work runs in
a bounded thread pool: containing ten principals takes about as long as containing one. A failed
call (a missing permission, say) becomes a gap naming the action and resource, and every other
action and principal still goes ahead.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

from irkit.containment.actions import ORDER, credential_of, execute, verify
from irkit.containment.snapshot import snapshot_file, take_snapshot
from irkit.containment.targets import Target
from irkit.errors import AwsCallError
from irkit.gaps import Gap
from irkit.steps.base import Action, RunContext

DEFAULT_WORKERS = 8

T = TypeVar("T")
R = TypeVar("R")


def bounded_map(fn: Callable[[T], R], items: Sequence[T], *, workers: int = DEFAULT_WORKERS) -> list[R]:
    """``[fn(x) for x in items]`` on at most ``workers`` threads, results in input order."""
    if len(items) <= 1 or workers <= 1:
        return [fn(x) for x in items]
    with ThreadPoolExecutor(max_workers=min(workers, len(items)), thread_name_prefix="irkit-contain") as pool:
        return list(pool.map(fn, items))


@dataclass
class ContainResult:
    rows: list[dict[str, Any]] = field(default_factory=list)
    gaps: list[Gap] = field(default_factory=list)
    snapshots: list[str] = field(default_factory=list)
    seconds: float = 0.0


@dataclass
class _Done:
    action: Action
    ok: bool
    time: str


def contain(
    ctx: RunContext,
    step_id: str,
    targets: Sequence[Target],
    actions: Sequence[Action],
    *,
    cutoff: datetime,
    workers: int = DEFAULT_WORKERS,
) -> ContainResult:
    """Snapshot each target, apply its actions, then re-read IAM to verify every one."""
    started = time.monotonic()
    iam = ctx.aws.client("iam")
    by_arn = {t.arn: t for t in targets}
    groups: dict[str, list[Action]] = {}
    for action in actions:
        groups.setdefault(action.target, []).append(action)
    for group in groups.values():
        group.sort(key=lambda a: ORDER.index(a.kind) if a.kind in ORDER else len(ORDER))

    def one(arn: str) -> tuple[list[_Done], list[Gap], str | None]:
        target = by_arn.get(arn)
        if target is None:  # an approved plan names a principal this run does not know: refuse
            return [], [Gap(arn, "not a containment target of this step: left untouched")], None
        name = snapshot_file(target.principal)
        try:
            if ctx.case.read_json(name) is None:  # the first snapshot is the one that counts
                snap = take_snapshot(iam, target.principal, origin=target.origin, case_id=ctx.case.case_id)
                snap["proof"] = list(target.proof)
                ctx.case.write_json(name, snap)
                ctx.journal.append("snapshot.saved", step=step_id, principal=arn, file=name)
        except AwsCallError as exc:
            return [], [Gap(arn, f"snapshot failed, principal left untouched: {exc}")], None
        done: list[_Done] = []
        gaps: list[Gap] = []
        for action in groups[arn]:
            try:
                ctx.act(step_id, action, lambda a=action: execute(iam, a, cutoff))  # type: ignore[misc]
                ok = True
            except AwsCallError as exc:
                gaps.append(
                    Gap(f"{exc.action} on {exc.resource}", f"{exc.code}: not applied ({action.kind})")
                )
                ok = False
            done.append(_Done(action, ok, datetime.now(UTC).isoformat(timespec="seconds")))
        return done, gaps, name

    result = ContainResult()
    outcomes = bounded_map(one, list(groups), workers=workers)
    applied: list[_Done] = []
    for done, gaps, snap in outcomes:
        applied.extend(done)
        result.gaps.extend(gaps)
        if snap:
            result.snapshots.append(snap)

    def check(d: _Done) -> bool:
        if not d.ok:
            return False
        try:
            return verify(iam, d.action)
        except AwsCallError as exc:
            result.gaps.append(
                Gap(f"{exc.action} on {exc.resource}", f"{exc.code}: could not verify {d.action.kind}")
            )
            return False

    verified = bounded_map(check, applied, workers=workers)
    for d, ok in zip(applied, verified, strict=True):
        result.rows.append(
            {
                "principal": d.action.target,
                "credential": credential_of(d.action),
                "action": d.action.kind,
                "applied": d.ok,
                "verified": ok,
                "time": d.time,
            }
        )
    result.seconds = round(time.monotonic() - started, 3)
    return result
