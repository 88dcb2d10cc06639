"""Collect a window of CloudTrail evidence: the flow shared by `irkit collect` and the runbook.

S3 archive (or Athena) → evidence folder with manifest → (optionally) digest-chain verification;
when the archive cannot be read at all, LookupEvents as a loud, unverified fallback.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from irkit.aws.session import Clients
from irkit.cloudtrail.athena import AthenaOptions, collect_athena
from irkit.cloudtrail.collect import CollectResult, collect_archive
from irkit.cloudtrail.digest import VerifyReport, load_public_keys, verify_evidence
from irkit.cloudtrail.layout import TrailLayout
from irkit.cloudtrail.lookup import lookup_fallback
from irkit.config import AgentSettings, LogArchiveSettings, Settings
from irkit.errors import ConfigError, ExitCode
from irkit.gaps import Gap

LOOKUP_WARNING = (
    "WARNING: the CloudTrail archive is unreadable; falling back to LookupEvents "
    "(management events only, 90 days, UNVERIFIED)"
)


def _warn(message: str) -> None:
    print(f"irkit: {message}", file=sys.stderr)


@dataclass(frozen=True, slots=True)
class CollectOutcome:
    collect: CollectResult
    verify: VerifyReport | None
    evidence: Path
    fallback: CollectResult | None = None

    @property
    def gaps(self) -> list[Gap]:
        gaps = list(self.collect.gaps)
        if self.fallback is not None:
            gaps.extend(self.fallback.gaps)
        if self.verify is not None:
            gaps.extend(self.verify.gaps())
        return gaps

    @property
    def exit_code(self) -> ExitCode:
        if self.verify is not None and not self.verify.ok:
            return ExitCode.STEP_FAILED
        return ExitCode.GAPS if self.gaps else ExitCode.OK

    def to_json(self) -> dict[str, Any]:
        return {
            "evidence": str(self.evidence),
            "manifest": str(self.collect.manifest),
            "files": self.collect.files,
            "bytes": self.collect.bytes,
            "skipped": self.collect.skipped,
            "verified": self.verify.ok if self.verify is not None else False,
            "verify": self.verify.to_json() if self.verify is not None else None,
            "fallback": str(self.fallback.manifest) if self.fallback is not None else None,
            "gaps": [g.to_json() for g in self.gaps],
        }


def layout_of(archive: LogArchiveSettings) -> TrailLayout:
    return TrailLayout(archive.bucket, archive.prefix, archive.organization_id)


def run_collect(
    clients: Clients,
    settings: Settings,
    agent: AgentSettings,
    *,
    start: datetime,
    end: datetime,
    evidence: Path,
    engine: str = "s3",
    progress: bool = False,
    verify: bool = True,
    warn: Callable[[str], None] = _warn,
) -> CollectOutcome:
    """Collect the window's evidence (and, with ``verify``, check it against the digest chain).

    Reads only. Used by ``irkit collect`` and by the runbook's ``collect`` step (which verifies in
    a step of its own, on S3)."""
    archive = settings.log_archive
    if archive is None:
        raise ConfigError("`irkit collect` needs a log_archive section", key_path="log_archive",
                          source=str(settings.source or ""))  # fmt: skip
    layout = layout_of(archive)
    accounts = list(archive.accounts) or [agent.account]
    principals = [p.arn for p in agent.principals]
    if engine == "athena":
        result = collect_athena(
            clients.archive("athena"), layout=layout, principals=principals, accounts=accounts,
            regions=archive.regions, start=start, end=end, dest=evidence,
            # Results go where the workgroup says: never into the (often write-locked) archive.
            options=AthenaOptions(),
        )  # fmt: skip
        return CollectOutcome(result, None, evidence)

    result = collect_archive(
        clients.archive("s3"), layout=layout, accounts=accounts, regions=archive.regions, start=start,
        end=end, dest=evidence, progress=progress,
    )  # fmt: skip
    if not result.paths and result.gaps:
        # The archive could not be read at all: LookupEvents is better than nothing, loudly unverified.
        warn(LOOKUP_WARNING)
        fallback = lookup_fallback(clients.client("cloudtrail"), principals, start, end, evidence)
        return CollectOutcome(result, None, evidence, fallback)
    if not verify:
        return CollectOutcome(result, None, evidence)
    keys = load_public_keys(
        clients.archive("cloudtrail", quick=True),
        archive.public_keys,
        start=start - timedelta(days=1),
        end=end,
    )
    for note in keys.notes:
        warn(note)
    if not len(keys):
        gap = Gap("digest-chain", "not verified: no trusted public key (set log_archive.public_keys)")
        return CollectOutcome(
            CollectResult(result.files, result.bytes, result.skipped, result.manifest, (*result.gaps, gap),
                          result.paths, hashes=result.hashes),
            None, evidence,
        )  # fmt: skip
    report = verify_evidence(evidence, keys, start=start, end=end, known_hashes=result.hashes)
    return CollectOutcome(result, report, evidence)


def render(outcome: CollectOutcome) -> str:
    c = outcome.collect
    lines = [
        f"evidence: {outcome.evidence}",
        f"collected {c.files} object(s), {c.bytes} bytes; {c.skipped} already present; manifest {c.manifest}",
    ]
    if outcome.fallback is not None:
        lines.append(f"LookupEvents fallback (UNVERIFIED): {outcome.fallback.manifest}")
    if outcome.verify is not None:
        v = outcome.verify
        state = v.verdict
        lines.append(f"digest chain: {state}; {v.digests_checked} digests, {v.logs_checked} logs, "
                     f"{len(v.pending)} pending")  # fmt: skip
        lines.extend(f"  {p.kind}: {p.path}: {p.detail}" for p in v.problems)
    other = [g for g in outcome.gaps if not g.reason.startswith("integrity:")]
    if other:
        lines.append(f"gaps ({len(other)}):")
        lines.extend(f"  {g.path}: {g.reason}" for g in other)
    return "\n".join(lines)
