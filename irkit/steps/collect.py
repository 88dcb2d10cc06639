"""Collect the agent's window of CloudTrail from the log-archive account into the case.

```yaml
- step: collect
  with: {engine: s3, workers: 8}
```
Reads only; runs after containment. Files land in ``evidence/`` mirroring their S3 keys,
read-only, with ``evidence/manifest.json`` recording each object's version and SHA-256.
"""

from __future__ import annotations

from irkit.cloudtrail.collect import collect_archive
from irkit.cloudtrail.layout import TrailLayout
from irkit.gaps import Gap
from irkit.steps.base import Option, Plan, RunContext, Step, StepResult, register


@register
class Collect(Step):
    name = "collect"
    summary = "Download the window's CloudTrail from the log archive, with a SHA-256 manifest."
    archive_permissions = ("s3:ListBucket", "s3:GetObject", "s3:GetObjectVersion", "sts:AssumeRole")
    options = {
        "engine": Option(str, "s3", "s3 (download the files) or athena (query the archive)", ("s3", "athena")),
        "workers": Option(int, 8, "parallel downloads"),
    }

    def plan(self, ctx: RunContext) -> Plan:
        archive = ctx.settings.log_archive
        if archive is None:
            return Plan(self.step_id, gaps=(Gap("log_archive", "not configured: no CloudTrail collected"),))
        accounts = archive.accounts or (ctx.agent.account,)
        regions = ", ".join(archive.regions) or "every region found in the archive"
        root = TrailLayout(archive.bucket, archive.prefix, archive.organization_id).account_root("*")
        note = (
            f"s3://{archive.bucket}/{root}"
            f" for accounts {', '.join(accounts)}, regions: {regions}, "
            f"{ctx.window_start:%Y-%m-%d %H:%M}Z → {ctx.window_end:%Y-%m-%d %H:%M}Z"
        )
        return Plan(self.step_id, notes=(note,))

    def apply(self, ctx: RunContext, plan: Plan) -> StepResult:
        archive = ctx.settings.log_archive
        if archive is None:
            return StepResult("skipped: no log archive configured", {"files": 0})
        aws = ctx.log_archive_aws() if ctx.log_archive_aws else ctx.aws
        layout = TrailLayout(archive.bucket, archive.prefix, archive.organization_id)
        result = collect_archive(
            aws.client("s3"),
            layout=layout,
            accounts=archive.accounts or (ctx.agent.account,),
            regions=archive.regions,
            start=ctx.window_start,
            end=ctx.window_end,
            dest=ctx.case.evidence_dir,
            workers=int(self.opts["workers"]),
        )
        return StepResult(
            f"{result.files} files, {result.bytes} bytes collected",
            {"files": result.files, "bytes": result.bytes, "manifest": str(result.manifest)},
            tuple(result.gaps),
        )
