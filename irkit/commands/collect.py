"""`irkit collect AGENT`: fetch and verify the agent's CloudTrail evidence. Reads only, changes nothing.

Exit 0 when everything was collected and verifies, 1 when the digest chain shows tampering or a
hole, 3 when evidence is incomplete (gaps: unreadable prefixes, unverified LookupEvents fallback).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated

import orjson
import typer

from irkit.aws.session import Aws, Clients
from irkit.cloudtrail.pipeline import render, run_collect
from irkit.commands._common import Config, Hours, Profile, Region, with_aws
from irkit.config import load_config, resolve_config_path
from irkit.errors import UsageError
from irkit.escape import terminal


def register(app: typer.Typer) -> None:
    @app.command("collect")
    def collect(
        agent: Annotated[str, typer.Argument(help="Agent name from irkit.yaml.")],
        config: Config = None,
        hours: Hours = 24.0,
        engine: Annotated[str, typer.Option("--engine", help="s3 (download + verify) or athena (query).")] = "s3",
        out: Annotated[
            Path | None,
            typer.Option("--out", help="Evidence folder (default ./irkit-cases/collect-AGENT/evidence)."),
        ] = None,
        as_json: Annotated[bool, typer.Option("--json", help="One JSON object on stdout.")] = False,
        profile: Profile = None,
        region: Region = None,
    ) -> None:
        """Collect and verify the agent's CloudTrail evidence; changes nothing in AWS.

        Example: irkit collect infra-optimizer --hours 6 --out ./evidence

        Exit codes: 0 collected and verified · 1 the digest chain shows tampering or a hole · 2 usage or
        configuration error · 3 evidence incomplete (coverage gaps) · 130 interrupted.
        """
        if engine not in {"s3", "athena"}:
            raise UsageError(f"--engine must be s3 or athena, not {engine!r}")
        settings = with_aws(load_config(resolve_config_path(config)), profile=profile, region=region)
        agent_settings = settings.agent(agent)
        end = datetime.now(UTC).replace(microsecond=0)
        evidence = out or Path("irkit-cases") / f"collect-{agent}" / "evidence"
        aws = Aws(settings.aws)
        aws.identity()  # no credentials (or refused ones): exit 2 now, naming the chain tried
        outcome = run_collect(
            Clients(aws, settings.log_archive.role_arn if settings.log_archive else None),
            settings, agent_settings, start=end - timedelta(hours=hours), end=end,
            evidence=evidence, engine=engine, progress=not as_json,
        )  # fmt: skip
        typer.echo(orjson.dumps(outcome.to_json()).decode() if as_json else terminal(render(outcome), newlines=True))
        raise typer.Exit(int(outcome.exit_code))
