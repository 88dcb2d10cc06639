"""Prove the window's CloudTrail untampered with the trail's own signed digest chain.

```yaml
- step: verify
  with: {recover: true}   # default: a rewritten log's authentic version replaces it in evidence/
```
Runs on the archive bucket itself (S3, every object version), for the case's window: a log
rewritten (a new object version, appended gzip members included), a log listed in a digest but
missing, a log covered by no digest, a file that is not a CloudTrail log (a planted ``.json``), a key
that cannot safely name a file (``key-refused``: ``..``, ``//``, control characters), a missing
digest (a break in the chain, two in a row included), a digest found at another key than it
claims, a bad signature, digests that stop early. Every problem is named in the report as a
coverage gap and checking goes on. Trusted keys come from ``cloudtrail:ListPublicKeys`` or, when
that is unavailable, from ``log_archive.public_keys``.

A rewritten log hides events from whoever analyses it. Object Lock keeps the version CloudTrail
delivered, and the digest's hash says which version that is: this step puts that version in
``evidence/<key>`` (so ``detect``, which runs next, analyses the original) and keeps the rewrite
beside it as ``evidence/<key>.tampered-<version>``, both recorded in ``manifest.json``.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from irkit.cloudtrail.digest import LOG_TAMPERED, RecoveredVersion, load_public_keys, verify_s3_window
from irkit.cloudtrail.layout import TrailLayout
from irkit.cloudtrail.recover import Adopted, adopt_authentic_version, tampered_name
from irkit.core.context import RunContext
from irkit.core.plan import Action, Plan, StepResult
from irkit.errors import UsageError
from irkit.gaps import Gap
from irkit.steps.base import Option, Step, register


@register
class Verify(Step):
    name = "verify"
    summary = "Check the window's logs against CloudTrail's signed digest chain (on S3)."
    archive_permissions = ("s3:ListBucket", "s3:ListBucketVersions", "s3:GetObject", "s3:GetObjectVersion",
                           "cloudtrail:ListPublicKeys")  # fmt: skip
    options = {
        "recover": Option(bool, True, "replace a rewritten log in evidence/ by the version its digest vouches for"),
    }

    def plan(self, ctx: RunContext) -> Plan:
        archive = ctx.settings.log_archive
        if archive is None:
            return Plan(self.step_id, gaps=(Gap("log_archive", "not configured: nothing to verify"),))
        notes = [f"digest chain of s3://{archive.bucket} over the case window"]
        if self.opts["recover"]:
            notes.append("a rewritten log is replaced in evidence/ by its authentic version (the rewrite is kept)")
        return Plan(self.step_id, notes=tuple(notes))

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
        recovered, failed = self._recover(ctx, archive.bucket, report.recovered)
        gaps: list[Gap] = []
        for problem in report.problems:
            done = recovered.get(problem.recovered.key) if problem.recovered is not None else None
            if problem.kind == LOG_TAMPERED and done is not None:
                gaps.append(Gap(problem.path, f"integrity: {LOG_TAMPERED}: {_recovery_text(done)}"))
            else:
                gaps.append(problem.to_gap())
        gaps.extend(failed)
        if recovered:
            summary += f"; {len(recovered)} rewritten log(s) recovered from object versions and analysed"
        unrecovered = [
            p.path
            for p in report.problems
            if p.kind == LOG_TAMPERED and (p.recovered is None or p.recovered.key not in recovered)
        ]
        output = report.to_json() | {
            "summary": summary,
            "notes": [*keys.notes, *report.notes],
            "recovered": [recovered[k] for k in sorted(recovered)],
            "unrecovered": unrecovered,
        }
        return StepResult(summary, output, tuple(gaps))

    def _recover(
        self, ctx: RunContext, bucket: str, found: list[RecoveredVersion]
    ) -> tuple[dict[str, dict[str, Any]], list[Gap]]:
        """Put each authentic version in evidence/ (journaled as an action); what was done, and gaps."""
        done: dict[str, dict[str, Any]] = {}
        gaps: list[Gap] = []
        if not found:
            return done, gaps
        uri = f"s3://{bucket}/"
        engine = str(ctx.output("collect").get("engine", "s3"))
        if not self.opts["recover"] or engine != "s3":
            why = "recover: false" if not self.opts["recover"] else f"{engine} evidence"
            for rec in found:
                reason = f"authentic version {rec.authentic_version} not analysed ({why}): evidence holds the rewrite"
                gaps.append(Gap(uri + rec.key, reason))
            return done, gaps
        s3 = ctx.trail.archive("s3")
        evidence = ctx.case.evidence_dir
        for rec in found:
            try:
                copy = tampered_name(rec.key, rec.tampered_version)
            except ValueError as exc:  # KeyRefused: the verifier never yields such a key; never a path either
                gaps.append(Gap(uri + rec.key, f"authentic version not adopted ({exc})"))
                continue
            action = Action(
                "adopt-authentic-log",
                uri + rec.key,
                f"version {rec.authentic_version} (written {rec.authentic_written}) matches the digest and "
                f"replaces the rewrite {rec.tampered_version} (written {rec.tampered_written}) in evidence/; "
                f"the rewrite is kept as evidence/{copy}",
                {"authentic_version": rec.authentic_version, "tampered_version": rec.tampered_version},
            )

            def adopt(rec: RecoveredVersion = rec) -> Adopted:
                return adopt_authentic_version(
                    s3, bucket, evidence, key=rec.key, authentic_version=rec.authentic_version,
                    tampered_version=rec.tampered_version, expected_sha256=rec.sha256_decompressed,
                    record=rec.to_json(),
                )  # fmt: skip

            try:
                adopted = ctx.act(self.step_id, action, adopt)
            except (ClientError, BotoCoreError, OSError, ValueError) as exc:
                reason = f"authentic version {rec.authentic_version} not adopted ({exc}): evidence holds the rewrite"
                gaps.append(Gap(uri + rec.key, reason))
                continue
            done[rec.key] = rec.to_json() | adopted.to_json() | {"analysed": "authentic"}
            if adopted.tampered.get("not_kept"):
                done[rec.key]["tampered_not_kept"] = adopted.tampered["not_kept"]
        return done, gaps


def _recovery_text(done: dict[str, Any]) -> str:
    kept = (
        f"the rewrite is not kept ({done['tampered_not_kept']})"
        if done.get("tampered_not_kept")
        else f"the rewrite is kept as evidence/{done['tampered_evidence']}"
    )
    return (
        f"rewritten at {done['tampered_written']} (version {done['tampered_version']}); irkit analysed the "
        f"original, version {done['authentic_version']} written {done['authentic_written']}, which matches "
        f"the digest; {kept}"
    )
