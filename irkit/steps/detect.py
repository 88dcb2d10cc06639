"""Find what the agent (or whoever held its credentials) did in the window.

```yaml
- step: detect
  with: {baseline: irkit-baselines/infra-optimizer.json}   # optional; default path used if present
```
Streams the collected evidence once through every rule, the sequence detectors and the agent's
baseline; writes ``findings.json`` and hands the credential chain to later steps.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict
from pathlib import Path
from typing import Any

from irkit.detect.analyzer import analyze_paths
from irkit.detect.baseline import Baseline, default_baseline_path
from irkit.gaps import Gap
from irkit.steps.base import Option, Plan, RunContext, Step, StepResult, register


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
        sources = [ctx.case.evidence_dir]
        principals = [p.arn for p in ctx.agent.principals]
        analysis, stats = analyze_paths(sources, principals=principals, baseline=baseline)
        gaps.extend(stats.gaps)
        findings = [_finding_json(f) for f in analysis.findings]
        chain = [_jsonable(asdict(link)) for link in analysis.chain]
        ctx.case.write_json(
            "findings.json",
            {"events": stats.events, "files": stats.files, "findings": findings, "chain": chain},
        )
        severities = Counter(f["severity"] for f in findings)
        summary = f"{len(findings)} findings over {stats.events} events in {stats.files} files"
        if severities:
            summary += (
                " ("
                + ", ".join(f"{severities[s]} {s}" for s in ("critical", "high", "medium", "low") if severities[s])
                + ")"
            )
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


def _finding_json(finding: Any) -> dict[str, Any]:
    out: dict[str, Any] = finding.to_contract()
    out.update(
        first_seen=finding.first_seen.isoformat(),
        detail=finding.detail,
        attribution=finding.attribution,
        evidence=_jsonable(dict(finding.evidence)),
    )
    return out


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_jsonable(v) for v in value]
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value
