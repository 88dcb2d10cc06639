"""Undo what the agent's credentials changed: its commits, the drift, the out-of-band API changes.

```yaml
- step: revert
  approval: true          # the responder approves the whole plan: commits, terraform changes, API calls
  with: {max_actions: 200, quarantine_roles: false, terminate_instances: false, push: false}
```
Reads the flagged, attributed, successful events of ``detect`` (``findings.json`` and the evidence),
the agent's commits in ``agents.<name>.git.repo`` and the terraform roots of
``agents.<name>.terraform``. The plan lists every change with its path — ``iac`` (restored by the
approved terraform apply of ``irkit/revert-<case>``) or ``api`` (compensating calls of the event's
registered inverse) — and exactly that plan is applied: the revert branch fetched into the
repository (never forced; pushed only with ``push``), each terraform plan file applied if its
SHA-256 is the approved one, each call journaled, each change verified by re-reading the world.
A dry run plans all of it in a scratch clone and changes nothing, the IaC included.
"""

from __future__ import annotations

from irkit.core.context import RunContext
from irkit.core.plan import Plan, StepResult
from irkit.revert.inverses import permissions as inverse_permissions
from irkit.revert.planner import RevertOptions, plan_revert
from irkit.revert.runner import apply_revert
from irkit.steps.base import Option, Step, register


def _options(step: Step, ctx: RunContext) -> RevertOptions:
    cap = step.opts.get("max_actions")
    return RevertOptions(
        max_actions=int(cap) if cap is not None else int(ctx.case.meta.max_actions),
        quarantine_roles=bool(step.opts["quarantine_roles"]),
        terminate_instances=bool(step.opts["terminate_instances"]),
        push=bool(step.opts["push"]),
    )


@register
class Revert(Step):
    name = "revert"
    summary = "Revert the agent's commits, apply the approved terraform plan, undo out-of-band API changes."
    mutates = True
    permissions = inverse_permissions()
    options = {
        "max_actions": Option(
            int, None, "refuse to act when the plan has more actions (default: --max-actions)", minimum=0
        ),
        "quarantine_roles": Option(
            bool, False, "keep roles the attacker created (stripped, trusting nobody) instead of deleting them"
        ),
        "terminate_instances": Option(bool, False, "terminate the attacker's instances instead of stopping them"),
        "push": Option(bool, False, "push irkit/revert-<case> to agents.<name>.git.remote (never forced)"),
    }

    def plan(self, ctx: RunContext) -> Plan:
        return plan_revert(ctx, self.step_id, _options(self, ctx))

    def apply(self, ctx: RunContext, plan: Plan) -> StepResult:
        return apply_revert(ctx, self.step_id, plan, max_actions=_options(self, ctx).max_actions)
