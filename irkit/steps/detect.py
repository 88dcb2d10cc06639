"""Find what the agent (or whoever held its credentials) did in the window.

```yaml
- step: detect
  with: {baseline: irkit-baselines/infra-optimizer.json}   # optional; default path used if present
```
Streams the collected evidence once through every rule, the sequence detectors, the agent's
baseline and the Sigma rules of ``detection.sigma_dirs``; writes ``findings.json`` (with the inventory of
every change and secret read) and hands the credential chain to later steps.
"""

from __future__ import annotations

from pathlib import Path

from irkit.cloudtrail.analyze import analyze_paths
from irkit.core.context import RunContext
from irkit.core.plan import Plan, StepResult
from irkit.detect.baseline import Baseline, default_baseline_path
from irkit.detect.sigma import load_sigma
from irkit.gaps import Gap
from irkit.report.build import severity_summary
from irkit.steps.base import Option, Step, register


@register
class Detect(Step):
    name = "detect"
    summary = "Run the rules, sequences and baseline over the collected evidence."
    options = {"baseline": Option(str, None, "path of the agent's baseline (irkit baseline AGENT)")}

    def _baseline_path(self, ctx: RunContext) -> Path:
        raw = self.opts.get("baseline")
        if raw:
            return Path(raw)
        return ctx.agent.baseline or default_baseline_path(ctx.agent.name)

    def plan(self, ctx: RunContext) -> Plan:
        path = self._baseline_path(ctx)
        note = f"baseline {path}" if path.exists() else "no baseline for this agent: rules and sequences only"
        return Plan(self.step_id, notes=(note,))

    def apply(self, ctx: RunContext, plan: Plan) -> StepResult:
        gaps: list[Gap] = []
        baseline = None
        path = self._baseline_path(ctx)
        if not path.exists() and (self.opts.get("baseline") or ctx.agent.baseline):
            gaps.append(Gap(str(path), "the configured baseline does not exist: no deviation was checked"))
        elif path.exists():
            try:
                baseline = Baseline.load(path)
            except Exception as exc:
                gaps.append(Gap(str(path), f"baseline unreadable: {exc}"))
        sigma = load_sigma(ctx.settings.detection.sigma_dirs) if ctx.settings.detection.sigma_dirs else None
        if sigma is not None:
            gaps.extend(sigma.gaps)  # a refused Sigma rule is a rule that did not run: a named gap
        sources = [ctx.case.evidence_dir]
        principals = [p.arn for p in ctx.agent.principals]
        analysis, stats = analyze_paths(sources, principals=principals, baseline=baseline, sigma=sigma)
        gaps.extend(stats.gaps)
        # a bound of the analysis state that folded something: judged with less detail, said
        gaps.extend(Gap("detect", note) for note in analysis.folded)
        if stats.events == 0 and not stats.gaps:
            # Files without a single event (or none at all) are not an all-clear: say it was not analysed.
            gaps.append(Gap(str(ctx.case.evidence_dir), "no CloudTrail event was read: nothing was analysed"))
        doc = analysis.to_json()  # the same shapes `irkit analyze --json` prints
        findings, chain = doc["findings"], doc["chain"]
        ctx.case.write_json(
            "findings.json",
            {
                "events": stats.events,
                "files": stats.files,
                "findings": findings,
                "chain": chain,
                "inventory": doc["inventory"],
            },
        )
        summary = f"{len(findings)} findings over {stats.events} events in {stats.files} files"
        if findings:
            summary += f" ({severity_summary(findings)})"
        return StepResult(
            summary,
            {
                "events": stats.events,
                "files": stats.files,
                "findings": len(findings),
                "chain": chain,
                "rule_ids": sorted({f["rule_id"] for f in findings}),
            },
            tuple(gaps),
        )

