"""Write the incident report (markdown + JSON) into the case folder.

```yaml
- step: report
```
Built from the case folder alone, so it can be regenerated after a resume (``irkit report CASE``).
report.json is the source: report.md is rendered from that dict. Runs in a dry run too.
"""

from __future__ import annotations

from irkit.core.context import RunContext
from irkit.core.plan import Plan, StepResult
from irkit.report.write import write_report
from irkit.steps.base import Step, register


@register
class ReportStep(Step):
    name = "report"
    summary = (
        "Write report.json and report.md: summary, next steps, containment, findings, timeline, revert, evidence, gaps."
    )

    def plan(self, ctx: RunContext) -> Plan:
        return Plan(self.step_id, notes=(f"report at {ctx.case.root / 'report.md'}",))

    def apply(self, ctx: RunContext, plan: Plan) -> StepResult:
        written = write_report(ctx.case, agent_principals=[p.arn for p in ctx.agent.principals])
        return StepResult(f"report written to {written.markdown}", {"report": str(written.markdown)})
