"""Collect the agent's window of CloudTrail from the log-archive account into the case.

```yaml
- step: collect
  with: {engine: s3, workers: 8}
```
Reads only; runs after containment. Files land in ``evidence/`` mirroring their S3 keys,
read-only (0400), with ``evidence/manifest.json`` recording each object's version and SHA-256; a key
that cannot safely name a file there (``..``, ``//``, control characters) is never fetched and is a
``key-refused`` gap. When the
archive cannot be read at all, LookupEvents is the fallback (management events only), loudly
marked unverified. ``engine: athena`` queries the archive instead of downloading it.
"""

from __future__ import annotations

from irkit.cloudtrail.layout import TrailLayout
from irkit.cloudtrail.pipeline import LOOKUP_WARNING, run_collect
from irkit.core.context import RunContext
from irkit.core.plan import Plan, StepResult
from irkit.gaps import Gap
from irkit.steps.base import Option, Step, register


@register
class Collect(Step):
    name = "collect"
    summary = "Download the window's CloudTrail from the log archive, with a SHA-256 manifest."
    permissions = ("cloudtrail:LookupEvents",)
    archive_permissions = (
        "s3:ListBucket",
        "s3:GetObject",
        "s3:GetObjectVersion",
        "athena:StartQueryExecution",
        "athena:GetQueryExecution",
        "athena:GetQueryResults",
        "athena:GetWorkGroup",
        "glue:GetTable",
        "glue:CreateTable",
        "glue:GetDatabase",
    )
    options = {
        "engine": Option(str, "s3", "s3 (download the files) or athena (query the archive)", ("s3", "athena")),
        "workers": Option(int, 8, "parallel downloads", minimum=1),
    }

    def plan(self, ctx: RunContext) -> Plan:
        archive = ctx.settings.log_archive
        if archive is None:
            return Plan(self.step_id, gaps=(Gap("log_archive", "not configured: no CloudTrail collected"),))
        accounts = archive.accounts or (ctx.agent.account,)
        regions = ", ".join(archive.regions) or "every region found in the archive"
        root = TrailLayout(archive.bucket, archive.prefix, archive.organization_id).account_root("*")
        via = f" as {archive.role_arn}" if archive.role_arn else ""
        note = (
            f"{self.opts['engine']}: s3://{archive.bucket}/{root}{via}"
            f" for accounts {', '.join(accounts)}, regions: {regions}, "
            f"{ctx.window_start:%Y-%m-%d %H:%M}Z → {ctx.window_end:%Y-%m-%d %H:%M}Z"
        )
        return Plan(self.step_id, notes=(note,))

    def apply(self, ctx: RunContext, plan: Plan) -> StepResult:
        if ctx.settings.log_archive is None:
            return StepResult("skipped: no log archive configured", {"files": 0})
        warnings: list[str] = []

        def warn(message: str) -> None:
            warnings.append(message)
            ctx.echo(f"  ! {message}")

        outcome = run_collect(
            ctx.trail,
            ctx.settings,
            ctx.agent,
            start=ctx.window_start,
            end=ctx.window_end,
            evidence=ctx.case.evidence_dir,
            engine=str(self.opts["engine"]),
            verify=False,  # the `verify` step checks the archive itself, on S3
            warn=warn,
        )
        result = outcome.collect
        gaps = list(outcome.gaps)
        summary = f"{result.files} files, {result.bytes} bytes collected"
        if result.skipped:
            summary += f" ({result.skipped} already present)"
        if outcome.fallback is not None:
            summary += f"; LookupEvents fallback: {outcome.fallback.files} files, UNVERIFIED"
            gaps.append(Gap("evidence", LOOKUP_WARNING))
        return StepResult(
            summary,
            {
                "files": result.files,
                "bytes": result.bytes,
                "skipped": result.skipped,
                "manifest": str(result.manifest),
                "engine": self.opts["engine"],
                "unverified": outcome.fallback is not None or not result.verified,
                "notes": warnings,
            },
            tuple(gaps),
        )
