"""`irkit collect AGENT`: fetch and verify the agent's CloudTrail evidence. Reads only, changes nothing.

Exit 0 when everything was collected and verifies, 1 when the digest chain shows tampering or a
hole, 3 when evidence is incomplete (gaps: unreadable prefixes, unverified LookupEvents fallback).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer

from irkit.cloudtrail.athena import AthenaOptions, collect_athena
from irkit.cloudtrail.collect import CollectResult, collect_archive, lookup_fallback
from irkit.cloudtrail.digest import VerifyReport, load_public_keys, verify_evidence
from irkit.cloudtrail.layout import TrailLayout
from irkit.config import AgentSettings, LogArchiveSettings, Settings, load_config
from irkit.errors import AwsCallError, ConfigError, ExitCode, UsageError
from irkit.gaps import Gap


class _Clients:
    """A stand-in for irkit.aws.session until it lands: config endpoint/profile/region, adaptive
    retries, and the log-archive role for archive reads."""

    def __init__(self, settings: Settings) -> None:
        import boto3
        from botocore.config import Config

        self.settings = settings
        self.config = Config(retries={"mode": "adaptive", "max_attempts": 10})
        # Optional calls with a fallback (ListPublicKeys) should fail fast, not retry for a minute.
        self.quick = Config(retries={"mode": "standard", "max_attempts": 2})
        self.base = boto3.Session(profile_name=settings.aws.profile)
        self._archive: Any | None = None

    def _client(self, session: Any, service: str, region: str | None = None, *, quick: bool = False) -> Any:
        return session.client(
            service,
            region_name=region or self.settings.aws.region,
            endpoint_url=self.settings.aws.endpoint_url,
            config=self.quick if quick else self.config,
        )

    def client(self, service: str, region: str | None = None) -> Any:
        return self._client(self.base, service, region)

    def archive(self, service: str, region: str | None = None, *, quick: bool = False) -> Any:
        """A client in the log-archive account (assuming ``log_archive.role_arn`` when set)."""
        archive = self.settings.log_archive
        if archive is None or not archive.role_arn:
            return self._client(self.base, service, region, quick=quick)
        if self._archive is None:
            import boto3
            from botocore.exceptions import BotoCoreError, ClientError

            try:
                creds = self.client("sts").assume_role(
                    RoleArn=archive.role_arn, RoleSessionName="irkit-collect"
                )["Credentials"]
            except ClientError as exc:
                err = exc.response.get("Error", {})
                raise AwsCallError(
                    "sts:AssumeRole", archive.role_arn, str(err.get("Code")), str(err.get("Message"))
                ) from None
            except BotoCoreError as exc:
                raise AwsCallError("sts:AssumeRole", archive.role_arn, type(exc).__name__, str(exc)) from None
            self._archive = boto3.Session(
                aws_access_key_id=creds["AccessKeyId"],
                aws_secret_access_key=creds["SecretAccessKey"],
                aws_session_token=creds["SessionToken"],
            )
        return self._client(self._archive, service, region, quick=quick)


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
    clients: _Clients,
    settings: Settings,
    agent: AgentSettings,
    *,
    start: datetime,
    end: datetime,
    evidence: Path,
    engine: str = "s3",
    progress: bool = False,
) -> CollectOutcome:
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
        typer.secho(
            "irkit: WARNING: the CloudTrail archive is unreadable; falling back to LookupEvents "
            "(management events only, 90 days, UNVERIFIED)",
            err=True, fg=typer.colors.RED, bold=True,
        )  # fmt: skip
        fallback = lookup_fallback(clients.client("cloudtrail"), principals, start, end, evidence)
        return CollectOutcome(result, None, evidence, fallback)
    keys = load_public_keys(
        clients.archive("cloudtrail", quick=True),
        archive.public_keys,
        start=start - timedelta(days=1),
        end=end,
    )
    for note in keys.notes:
        typer.secho(f"irkit: warning: {note}", err=True, fg=typer.colors.YELLOW)
    if not len(keys):
        gap = Gap("digest-chain", "not verified: no trusted public key (set log_archive.public_keys)")
        return CollectOutcome(
            CollectResult(result.files, result.bytes, result.skipped, result.manifest, (*result.gaps, gap),
                          result.paths),
            None, evidence,
        )  # fmt: skip
    report = verify_evidence(evidence, keys, start=start, end=end)
    return CollectOutcome(result, report, evidence)


def _render(outcome: CollectOutcome) -> str:
    c = outcome.collect
    lines = [
        f"evidence: {outcome.evidence}",
        f"collected {c.files} object(s), {c.bytes} bytes; {c.skipped} already present; manifest {c.manifest}",
    ]
    if outcome.fallback is not None:
        lines.append(f"LookupEvents fallback (UNVERIFIED): {outcome.fallback.manifest}")
    if outcome.verify is not None:
        v = outcome.verify
        state = "OK" if v.ok else f"INTEGRITY FAILURE ({len(v.problems)} problem(s))"
        lines.append(f"digest chain: {state}; {v.digests_checked} digests, {v.logs_checked} logs, "
                     f"{len(v.pending)} pending")  # fmt: skip
        lines.extend(f"  {p.kind}: {p.path}: {p.detail}" for p in v.problems)
    other = [g for g in outcome.gaps if not g.reason.startswith("integrity:")]
    if other:
        lines.append(f"gaps ({len(other)}):")
        lines.extend(f"  {g.path}: {g.reason}" for g in other)
    return "\n".join(lines)


def register(app: typer.Typer) -> None:
    @app.command("collect")
    def collect(
        agent: Annotated[str, typer.Argument(help="Agent name from irkit.yaml.")],
        config: Annotated[Path | None, typer.Option("--config", help="irkit.yaml path.")] = None,
        hours: Annotated[int, typer.Option("--hours", min=1, help="How far back to collect.")] = 24,
        engine: Annotated[
            str, typer.Option("--engine", help="s3 (download + verify) or athena (query).")
        ] = "s3",
        out: Annotated[
            Path | None,
            typer.Option("--out", help="Evidence folder (default ./irkit-cases/collect-AGENT/evidence)."),
        ] = None,
        as_json: Annotated[bool, typer.Option("--json", help="One JSON object on stdout.")] = False,
    ) -> None:
        """Collect and verify the agent's CloudTrail evidence; changes nothing in AWS."""
        if engine not in {"s3", "athena"}:
            raise UsageError(f"--engine must be s3 or athena, not {engine!r}")
        settings = load_config(config)
        agent_settings = settings.agent(agent)
        end = datetime.now(UTC).replace(microsecond=0)
        evidence = out or Path("irkit-cases") / f"collect-{agent}" / "evidence"
        outcome = run_collect(
            _Clients(settings), settings, agent_settings, start=end - timedelta(hours=hours), end=end,
            evidence=evidence, engine=engine, progress=not as_json,
        )  # fmt: skip
        typer.echo(orjson.dumps(outcome.to_json()).decode() if as_json else _render(outcome))
        raise typer.Exit(int(outcome.exit_code))
