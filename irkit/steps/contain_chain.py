"""Contain the credential chain: what the agent's credentials created or handed out.

```yaml
- step: contain_chain         # (old name: revoke_chain) after detect: reads its `chain`
  with: {max_rounds: 5, lock_trust: true, max_actions: 200, workers: 8}
```
Users the agent created are contained like the agent's own (keys ``Inactive``, ``aws:TokenIssueTime``
deny, console login removed); access keys and console passwords it created for other users are
disabled alone; roles it created get ``AWSRevokeOlderSessions`` and a trust policy that allows nobody
(which removes any trust in an outside account); AssumeRole sessions it obtained are cut by revoking
the sessions of their role when that role is the agent's or in the chain. Only links that lead back
to the agent's inventory are touched; anything else is refused and named as a gap.

Then the evidence is analysed again with the new principals followed, and what *they* created is
contained too, round after round until no new link appears (at most ``max_rounds``). Every principal
is snapshotted before it changes and every change is verified by re-reading IAM. The output holds
each link (``chain``) with the event that proves it, ``status`` and ``verified``: ``contained`` (or
``contained by the contain step`` for the agent's own principals) only when IAM, read again after
containment, shows that link's credential cut; ``refused`` with the reason; otherwise
``NOT contained: <why>``, also a gap. ``contained`` rows and ``principals`` as in ``revoke``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from irkit.aws.session import aws_call
from irkit.cloudtrail.analyze import analyze_paths
from irkit.contain.actions import PROPAGATION_NOTE, TRUST_NOTE, external_principals
from irkit.contain.calls import bounded_map, urgent
from irkit.contain.chain import ChainResolver, Link, Resolution
from irkit.contain.runner import DEFAULT_WORKERS, contain, not_planned
from irkit.contain.targets import Target, merge_targets
from irkit.contain.verdict import CONTAINED, NOT_CONTAINED, Observed, observe, problems, status
from irkit.core.context import RunContext
from irkit.core.plan import Action, Plan, StepResult
from irkit.errors import AwsCallError
from irkit.gaps import Gap
from irkit.steps.base import Option, Step, register
from irkit.steps.contain import (
    CONTAIN_PERMISSIONS,
    max_actions,
    over_cap_gap,
    over_cap_principals,
    plan_targets,
    unplanned_json,
    unplanned_of,
)

Analyzer = Callable[[Sequence[Path], Sequence[str]], list[Any]]
ANALYZER: Analyzer | None = None
"""Re-analysis of the evidence for new principals; ``None``: :func:`irkit.cloudtrail.analyze.analyze_paths`."""


def _detect_analyzer(paths: Sequence[Path], principals: Sequence[str]) -> list[Any]:
    # Imported by name, late: containment must work (and type-check) without the detection package.
    analysis, _stats = analyze_paths(list(paths), principals=list(principals), baseline=None)
    return list(analysis.chain)


def chain_rows(res: Resolution, round_no: int) -> list[dict[str, Any]]:
    """The chain as planned: each link and the event that proves it. Accepted links stay ``planned``
    until :func:`settle_chain` re-reads IAM after containment; refused ones are final."""
    rows = []
    skipped = {link.key: why for link, why in res.skipped}
    for link in res.accepted:
        reason = skipped.get(link.key, "")
        rows.append(
            link.to_json()
            | {"status": "planned", "reason": reason, "verified": False, "round": round_no, "by_revoke": bool(reason)}
        )
    for link, why in res.refused:
        rows.append(link.to_json() | {"status": "refused", "reason": why, "verified": False, "round": round_no})
    return rows


def is_pending(row: Mapping[str, Any]) -> bool:
    """A link whose containment is still to be read back (a plan by an older irkit said "contained"
    before anything was done: that is read back too)."""
    return row["status"] == "planned" or (row["status"] != "refused" and "verified" not in row)


def link_key(kind: str, identifier: str) -> str:
    return f"{kind}|{identifier}"


def link_targets_json(res: Resolution) -> dict[str, Any]:
    return {link_key(*key): t.to_json() for key, t in res.link_targets.items()}


def settle_chain(
    iam: Any,
    chain: list[dict[str, Any]],
    link_targets: Mapping[str, Target],
    *,
    observed: Mapping[str, Observed],
    unplanned: Mapping[str, str],
    actions: Mapping[str, list[Action]],
    workers: int,
) -> list[Gap]:
    """Give every accepted link its status from IAM as it is now (``observed`` after containment, or
    read again here); a link that is not contained says why, and is a gap."""
    gaps: list[Gap] = []
    pending = [row for row in chain if is_pending(row)]
    need = sorted(
        {t.arn for row in pending if (t := link_targets.get(link_key(row["kind"], row["identifier"])))}
        - set(observed)
        - set(unplanned)
    )
    targets = {t.arn: t.principal for t in link_targets.values()}
    seen = dict(observed) | dict(
        zip(need, bounded_map(lambda arn: observe(iam, targets[arn]), need, workers=workers), strict=True)
    )
    for row in pending:
        target = link_targets.get(link_key(row["kind"], row["identifier"]))
        if target is None:  # a plan from an older irkit, without link targets: nothing re-read, no claim
            issues = ["no re-read of this link (plan without link targets)"]
        else:
            now = seen.get(target.arn)
            issues = problems(target, now, actions.get(target.arn, [])) if now is not None else []
            if target.arn in unplanned and (now is None or issues):  # say first why it was not even tried
                issues = [unplanned[target.arn], *issues]
        by_revoke = row.get("by_revoke", row["status"] == "contained by the contain step")
        state = status(issues, ok="contained by the contain step" if by_revoke else CONTAINED)
        row["status"], row["verified"] = state, not issues
        if issues:
            row["reason"] = ""  # the status says why
            gaps.append(Gap(str(row["identifier"]), state))
    return gaps


@register
class ContainChain(Step):
    name = "contain_chain"
    summary = "Contain what the agent's credentials created: users, keys, console logins, roles, sessions."
    mutates = True
    permissions = (*CONTAIN_PERMISSIONS, "iam:GetAccessKeyLastUsed")
    options = {
        "max_actions": Option(int, None, "refuse to act beyond this many actions (default: --max-actions)", minimum=0),
        "lock_trust": Option(bool, True, "replace each chain role's trust policy by one that allows nobody"),
        "workers": Option(int, DEFAULT_WORKERS, "principals contained in parallel", minimum=1),
        "max_rounds": Option(
            int, 5, "analyse the evidence again for new principals at most this many times", minimum=1
        ),
    }

    # -- plan ----------------------------------------------------------------------------------

    def _resolver(self, ctx: RunContext, gaps: list[Gap]) -> ChainResolver:
        iam = urgent(ctx.aws)
        agent_keys: list[str] = []
        for p in ctx.agent.principals:
            if p.kind != "user":
                continue
            try:
                agent_keys.extend(_key_ids(iam, p.arn, p.name))
            except AwsCallError as exc:
                gaps.append(
                    Gap(
                        f"{exc.action} on {exc.resource}", f"{exc.code}: the agent's keys are not chain roots"
                    )
                )

        def key_owner(key_id: str) -> str | None:
            try:
                resp = aws_call(
                    "iam:GetAccessKeyLastUsed",
                    key_id,
                    lambda: iam.get_access_key_last_used(AccessKeyId=key_id),
                )
            except AwsCallError as exc:
                gaps.append(Gap(f"{exc.action} on {exc.resource}", f"{exc.code}: owner of the key unknown"))
                return None
            return str(resp["UserName"]) if resp.get("UserName") else None

        return ChainResolver(ctx.agent, agent_keys=agent_keys, key_owner=key_owner)

    def plan(self, ctx: RunContext) -> Plan:
        links = list(ctx.output("detect").get("chain") or [])
        if not links:
            return Plan(self.step_id, notes=("no credential chain from detect: nothing more to contain",))
        gaps: list[Gap] = []
        res = self._resolver(ctx, gaps).resolve(links)
        targets = merge_targets(res.targets)
        planned = plan_targets(
            ctx,
            self.step_id,
            targets,
            lock_trust=bool(self.opts["lock_trust"]),
            workers=int(self.opts["workers"]),
        )
        plans = planned.plans
        gaps.extend(planned.gaps)
        gaps.extend(Gap(link.identifier, why) for link, why in res.refused)
        notes = [*_external_notes(res), *planned.notes]
        actions = [a for tp in plans for a in tp.actions]
        cap = max_actions(ctx, self.opts)
        if len(actions) > cap:
            notes.append(f"plan has {len(actions)} actions, over max_actions={cap}: nothing will be applied")
        if actions:
            notes = [PROPAGATION_NOTE, TRUST_NOTE, *notes]
        planned_arns = {tp.target.arn for tp in plans}
        data = {
            "targets": [t.to_json() for t in targets if t.arn in planned_arns],
            "chain": chain_rows(res, 1),
            "link_targets": link_targets_json(res),
            "unplanned": unplanned_json(planned),
            "facts": {tp.target.arn: tp.facts for tp in plans},
        }
        return Plan(self.step_id, tuple(actions), tuple(notes), tuple(gaps), data)

    # -- apply ---------------------------------------------------------------------------------

    def apply(self, ctx: RunContext, plan: Plan) -> StepResult:
        cap = max_actions(ctx, self.opts)
        chain = [dict(c) for c in plan.data.get("chain", [])]
        if len(plan.actions) > cap:
            gap = over_cap_gap(self.step_id, len(plan.actions), cap)
            for row in chain:
                if is_pending(row):
                    row["status"], row["verified"] = f"{NOT_CONTAINED}: nothing applied ({gap.reason})", False
            targets = [Target.from_json(t) for t in plan.data.get("targets", [])]
            output = {"contained": [], "chain": chain, "principals": over_cap_principals(targets, gap),
                      "complete": False}  # fmt: skip
            return StepResult("refused: too many actions; NOT contained", output, (gap,))
        workers = int(self.opts["workers"])
        lock_trust = bool(self.opts["lock_trust"])
        targets = [Target.from_json(t) for t in plan.data.get("targets", [])]
        link_targets = {k: Target.from_json(t) for k, t in plan.data.get("link_targets", {}).items()}
        unplanned_targets = {t.arn: t for t, _why in unplanned_of(plan)}
        unplanned = {t.arn: why for t, why in unplanned_of(plan)}
        first = contain(ctx, self.step_id, targets, plan.actions, cutoff=datetime.now(UTC), workers=workers)
        rows, gaps, seconds = list(first.rows), list(first.gaps), first.seconds
        principals = {p["principal"]: p for p in first.principals}
        observed = dict(first.observed)
        acted: dict[str, list[Action]] = {}
        for a in plan.actions:
            acted.setdefault(a.target, []).append(a)
        snapshots = list(first.snapshots)
        notes = list(plan.notes)
        facts = dict(plan.data.get("facts", {}))
        total = len(plan.actions)
        done_full = {t.arn for t in targets if t.full}

        resolver = self._resolver(ctx, gaps)
        resolver.resolve(ctx.output("detect").get("chain") or [])  # what round 1 already decided
        analyzer = ANALYZER or _detect_analyzer
        rounds = 1
        while rounds < int(self.opts["max_rounds"]):
            try:
                found = analyzer([ctx.case.evidence_dir], resolver.principals())
            except ImportError:
                gaps.append(
                    Gap(self.step_id, "detection is not installed: the chain was not followed further")
                )
                break
            except Exception as exc:  # a failed re-analysis must not undo what is contained
                gaps.append(Gap(self.step_id, f"re-analysis failed, chain not followed further: {exc}"))
                break
            res = resolver.resolve(found)
            if not res.accepted and not res.refused:
                break
            rounds += 1
            chain.extend(chain_rows(res, rounds))
            link_targets.update({link_key(*k): t for k, t in res.link_targets.items()})
            gaps.extend(Gap(link.identifier, why) for link, why in res.refused)
            notes.extend(_external_notes(res))
            new = [t for t in merge_targets(res.targets) if t.arn not in done_full]
            planned = plan_targets(ctx, self.step_id, new, lock_trust=lock_trust, workers=workers)
            gaps.extend(planned.gaps)
            notes.extend(planned.notes)
            unplanned.update({t.arn: why for t, why in planned.unplanned})
            unplanned_targets.update({t.arn: t for t, _why in planned.unplanned})
            actions = [a for tp in planned.plans for a in tp.actions]
            ctx.journal.append(
                "chain.round",
                step=self.step_id,
                round=rounds,
                links=[link.to_json() for link in res.accepted],
                actions=[a.to_json() for a in actions],
            )
            if total + len(actions) > cap:
                gap = over_cap_gap(f"{self.step_id} round {rounds}", total + len(actions), cap)
                gaps.append(gap)
                unplanned.update({tp.target.arn: f"nothing applied: {gap.reason}" for tp in planned.plans})
                unplanned_targets.update({tp.target.arn: tp.target for tp in planned.plans})
                break
            total += len(actions)
            more_targets = [tp.target for tp in planned.plans]
            facts.update({tp.target.arn: tp.facts for tp in planned.plans})
            more = contain(ctx, self.step_id, more_targets, actions, cutoff=datetime.now(UTC), workers=workers)
            rows.extend(more.rows)
            gaps.extend(more.gaps)
            snapshots.extend(more.snapshots)
            principals.update({p["principal"]: p for p in more.principals})
            observed.update(more.observed)
            for a in actions:
                acted.setdefault(a.target, []).append(a)
            seconds += more.seconds
            done_full.update(t.arn for t in more_targets if t.full)
        else:
            if rounds >= int(self.opts["max_rounds"]) and int(self.opts["max_rounds"]) > 1:
                gaps.append(Gap(self.step_id, f"stopped after max_rounds={rounds}: the chain may go further"))
        for arn, why in unplanned.items():
            if arn not in principals:
                row, entry = not_planned(unplanned_targets.get(arn, arn), why)
                rows.append(row)
                principals[arn] = entry
        gaps.extend(
            settle_chain(
                urgent(ctx.aws),
                chain,
                link_targets,
                observed=observed,
                unplanned=unplanned,
                actions=acted,
                workers=workers,
            )
        )
        seconds = round(seconds, 3)
        ctx.journal.append(
            "containment.timing", step=self.step_id, seconds=seconds, actions=len(rows), rounds=rounds
        )
        verified = sum(1 for r in rows if r["verified"])
        contained = sum(1 for c in chain if c["status"] == CONTAINED)
        not_contained = [c for c in chain if str(c["status"]).startswith(NOT_CONTAINED)]
        summary = f"{contained} chain links contained in {rounds} rounds; {verified}/{len(rows)} actions verified"
        if not_contained:
            named = ", ".join(str(c["identifier"]) for c in not_contained[:3])
            more_links = f" and {len(not_contained) - 3} more" if len(not_contained) > 3 else ""
            summary += f"; {len(not_contained)} chain links NOT contained ({named}{more_links})"
        all_principals = list(principals.values())
        return StepResult(
            summary,
            {
                "contained": rows,
                "chain": chain,
                "principals": all_principals,
                "complete": not not_contained and all(p["verified"] for p in all_principals),
                "rounds": rounds,
                "time_to_contain_seconds": seconds,
                "snapshots": snapshots,
                "facts": facts,
                "notes": list(dict.fromkeys(notes)),
            },
            tuple(dict.fromkeys(gaps)),
        )


def _key_ids(iam: Any, arn: str, user: str) -> list[str]:
    keys = aws_call("iam:ListAccessKeys", arn, lambda: iam.list_access_keys(UserName=user))
    return [str(k["AccessKeyId"]) for k in keys["AccessKeyMetadata"]]


def _external_notes(res: Resolution) -> list[str]:
    notes = []
    for link in res.accepted:
        if link.kind == "role" and link.external_accounts:
            notes.append(
                f"{link.identifier} trusted outside accounts {', '.join(link.external_accounts)} "
                f"({link.event_name} {link.event_id}): that trust is removed by the trust lock"
            )
    return notes


__all__ = ["ANALYZER", "ContainChain", "Link", "external_principals"]
