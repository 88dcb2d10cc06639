"""Prove the window's CloudTrail untampered with the trail's own signed digest chain.

```yaml
- step: verify
```
Runs on the archive bucket itself (S3, every object version), for the case's window: a log
rewritten (a new object version), a log listed in a digest but missing, a log covered by no digest,
a missing digest (a break in the chain, two in a row included), a digest found at another key than
it claims, a bad signature, digests that stop early. Every problem is named in the report as a
coverage gap and checking goes on. Trusted keys come from ``cloudtrail:ListPublicKeys`` or, when
that is unavailable, from ``log_archive.public_keys``.
"""

from __future__ import annotations

from datetime import timedelta

from irkit.cloudtrail.digest import load_public_keys, verify_s3_window
from irkit.cloudtrail.layout import TrailLayout
from irkit.errors import UsageError
from irkit.gaps import Gap
from irkit.steps.base import Plan, RunContext, Step, StepResult, register


@register
class Verify(Step):
    name = "verify"
    summary = "Check the window's logs against CloudTrail's signed digest chain (on S3)."
    archive_permissions = ("s3:ListBucket", "s3:ListBucketVersions", "s3:GetObject", "s3:GetObjectVersion",
                           "cloudtrail:ListPublicKeys")  # fmt: skip

    def plan(self, ctx: RunContext) -> Plan:
        archive = ctx.settings.log_archive
        if archive is None:
            return Plan(self.step_id, gaps=(Gap("log_archive", "not configured: nothing to verify"),))
        return Plan(self.step_id, notes=(f"digest chain of s3://{archive.bucket} over the case window",))

    def apply(self, ctx: RunContext, plan: Plan) -> StepResult:
        archive = ctx.settings.log_archive
        if archive is None:
            return StepResult("skipped: no log archive configured")
        if ctx.output("collect").get("unverified"):
            gap = Gap("evidence", "collected through LookupEvents: no digest chain can vouch for it (UNVERIFIED)")
            return StepResult("not verifiable: LookupEvents evidence", {"ok": False}, (gap,))
        try:
            keys = load_public_keys(
                ctx.trail.archive("cloudtrail", quick=True),
                archive.public_keys,
                start=ctx.window_start - timedelta(days=1),
                end=ctx.window_end,
            )
        except UsageError as exc:
            return StepResult("not verified: no usable public key", {"ok": False}, (Gap("digest-chain", str(exc)),))
        if not len(keys):
            gap = Gap("digest-chain", "not verified: no trusted public key (set log_archive.public_keys)")
            return StepResult("not verified: no trusted public key", {"ok": False, "notes": keys.notes}, (gap,))
        report = verify_s3_window(
            ctx.trail.archive("s3"),
            TrailLayout(archive.bucket, archive.prefix, archive.organization_id),
            keys,
            accounts=archive.accounts or (ctx.agent.account,),
            regions=archive.regions,
            start=ctx.window_start,
            end=ctx.window_end,
        )
        state = "intact" if report.ok else f"{len(report.problems)} INTEGRITY PROBLEMS"
        summary = (
            f"digest chain {state}: {report.digests_checked} digests, {report.logs_checked} logs checked, "
            f"{len(report.pending)} pending"
        )
        output = report.to_json() | {"summary": summary, "notes": [*keys.notes, *report.notes]}
        return StepResult(summary, output, tuple(report.gaps()))
