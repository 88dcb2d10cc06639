"""Write the incident report (markdown + JSON) into the case folder.

```yaml
- step: report
```
Built from the case folder alone, so it can be regenerated after a resume. Runs in a dry run too.
"""

from __future__ import annotations

import orjson

from irkit.core.context import RunContext
from irkit.core.plan import Plan, StepResult
from irkit.report.build import build_report
from irkit.report.markdown import render_markdown
from irkit.steps.base import Step, register


@register
class ReportStep(Step):
    name = "report"
    summary = "Write report.md and report.json: summary, containment, findings, timeline, evidence, gaps."

    def plan(self, ctx: RunContext) -> Plan:
        return Plan(self.step_id, notes=(f"report at {ctx.case.root / 'report.md'}",))

    def apply(self, ctx: RunContext, plan: Plan) -> StepResult:
        report = build_report(ctx.case, agent_principals=[p.arn for p in ctx.agent.principals])
        md_path = ctx.case.root / "report.md"
        md_path.write_text(render_markdown(report), encoding="utf-8")
        (ctx.case.root / "report.json").write_bytes(orjson.dumps(report.to_json(), option=orjson.OPT_INDENT_2))
        return StepResult(f"report written to {md_path}", {"report": str(md_path)})
