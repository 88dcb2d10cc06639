"""Contain the credential chain: what the agent's credentials created or handed out.

```yaml
- step: revoke_chain          # after detect: reads its `chain`
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
each link with the event that proves it and its status, and the ``contained`` rows of the report.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from irkit.aws.session import aws_call
from irkit.containment.actions import PROPAGATION_NOTE, TRUST_NOTE, external_principals
from irkit.containment.chain import ChainResolver, Link, Resolution
from irkit.containment.runner import DEFAULT_WORKERS, contain
from irkit.containment.targets import Target, merge_targets
from irkit.errors import AwsCallError
from irkit.gaps import Gap
from irkit.steps.base import Option, Plan, RunContext, Step, StepResult, register
from irkit.steps.revoke import CONTAIN_PERMISSIONS, max_actions, over_cap_gap, plan_targets

Analyzer = Callable[[Sequence[Path], Sequence[str]], list[Any]]
ANALYZER: Analyzer | None = None
"""Re-analysis of the evidence for new principals; ``None``: :func:`irkit.detect.analyzer.analyze_paths`."""


def _detect_analyzer(paths: Sequence[Path], principals: Sequence[str]) -> list[Any]:
    # Imported by name, late: containment must work (and type-check) without the detection package.
    analyze_paths = importlib.import_module("irkit.detect.analyzer").analyze_paths
    analysis, _stats = analyze_paths(list(paths), principals=list(principals), baseline=None)
    return list(analysis.chain)


def chain_rows(res: Resolution, round_no: int) -> list[dict[str, Any]]:
    """The chain as the report shows it: each link, the event that proves it, what irkit did."""
    rows = []
    skipped = {link.key: why for link, why in res.skipped}
    for link in res.accepted:
        status, reason = (
            ("contained by revoke", skipped[link.key]) if link.key in skipped else ("contained", "")
        )
        rows.append(link.to_json() | {"status": status, "reason": reason, "round": round_no})
    for link, why in res.refused:
        rows.append(link.to_json() | {"status": "refused", "reason": why, "round": round_no})
    return rows


@register
class RevokeChain(Step):
    name = "revoke_chain"
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
        iam = ctx.aws.client("iam")
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
        plans, plan_gaps, notes = plan_targets(
            ctx,
            self.step_id,
            targets,
            lock_trust=bool(self.opts["lock_trust"]),
            workers=int(self.opts["workers"]),
        )
        gaps.extend(plan_gaps)
        gaps.extend(Gap(link.identifier, why) for link, why in res.refused)
        notes = [*_external_notes(res), *notes]
        actions = [a for tp in plans for a in tp.actions]
        cap = max_actions(ctx, self.opts)
        if len(actions) > cap:
            notes.append(f"plan has {len(actions)} actions, over max_actions={cap}: nothing will be applied")
        if actions:
            notes = [PROPAGATION_NOTE, TRUST_NOTE, *notes]
        planned = {tp.target.arn for tp in plans}
        data = {
            "targets": [t.to_json() for t in targets if t.arn in planned],
            "chain": chain_rows(res, 1),
            "facts": {tp.target.arn: tp.facts for tp in plans},
        }
        return Plan(self.step_id, tuple(actions), tuple(notes), tuple(gaps), data)

    # -- apply ---------------------------------------------------------------------------------

    def apply(self, ctx: RunContext, plan: Plan) -> StepResult:
        cap = max_actions(ctx, self.opts)
        chain = list(plan.data.get("chain", []))
        if len(plan.actions) > cap:
            gap = over_cap_gap(self.step_id, len(plan.actions), cap)
            return StepResult("refused: too many actions", {"contained": [], "chain": chain}, (gap,))
        workers = int(self.opts["workers"])
        targets = [Target.from_json(t) for t in plan.data.get("targets", [])]
        first = contain(ctx, self.step_id, targets, plan.actions, cutoff=datetime.now(UTC), workers=workers)
        rows, gaps, seconds = list(first.rows), list(first.gaps), first.seconds
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
            gaps.extend(Gap(link.identifier, why) for link, why in res.refused)
            notes.extend(_external_notes(res))
            new = [t for t in merge_targets(res.targets) if t.arn not in done_full]
            plans, plan_gaps, more_notes = plan_targets(
                ctx,
                self.step_id,
                new,
                lock_trust=bool(self.opts["lock_trust"]),
                workers=int(self.opts["workers"]),
            )
            gaps.extend(plan_gaps)
            notes.extend(more_notes)
            actions = [a for tp in plans for a in tp.actions]
            ctx.journal.append(
                "chain.round",
                step=self.step_id,
                round=rounds,
                links=[link.to_json() for link in res.accepted],
                actions=[a.to_json() for a in actions],
            )
            if total + len(actions) > cap:
                gaps.append(over_cap_gap(f"{self.step_id} round {rounds}", total + len(actions), cap))
                break
            total += len(actions)
            planned = [tp.target for tp in plans]
            facts.update({tp.target.arn: tp.facts for tp in plans})
            more = contain(ctx, self.step_id, planned, actions, cutoff=datetime.now(UTC), workers=workers)
            rows.extend(more.rows)
            gaps.extend(more.gaps)
            snapshots.extend(more.snapshots)
            seconds += more.seconds
            done_full.update(t.arn for t in planned if t.full)
        else:
            if rounds >= int(self.opts["max_rounds"]) and int(self.opts["max_rounds"]) > 1:
                gaps.append(Gap(self.step_id, f"stopped after max_rounds={rounds}: the chain may go further"))
        seconds = round(seconds, 3)
        ctx.journal.append(
            "containment.timing", step=self.step_id, seconds=seconds, actions=len(rows), rounds=rounds
        )
        verified = sum(1 for r in rows if r["verified"])
        contained = sum(1 for c in chain if c["status"] == "contained")
        return StepResult(
            f"{contained} chain links contained in {rounds} rounds; {verified}/{len(rows)} actions verified",
            {
                "contained": rows,
                "chain": chain,
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


__all__ = ["ANALYZER", "Link", "RevokeChain", "external_principals"]
