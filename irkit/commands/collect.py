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
from irkit.config import load_config
from irkit.engine.run import MAX_HOURS
from irkit.errors import UsageError
from irkit.escape import terminal


def register(app: typer.Typer) -> None:
    @app.command("collect")
    def collect(
        agent: Annotated[str, typer.Argument(help="Agent name from irkit.yaml.")],
        config: Annotated[Path | None, typer.Option("--config", help="irkit.yaml path.")] = None,
        hours: Annotated[int, typer.Option("--hours", min=1, max=MAX_HOURS, help="How far back to collect.")] = 24,
        engine: Annotated[str, typer.Option("--engine", help="s3 (download + verify) or athena (query).")] = "s3",
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
            Clients(Aws(settings.aws), settings.log_archive.role_arn if settings.log_archive else None),
            settings, agent_settings, start=end - timedelta(hours=hours), end=end,
            evidence=evidence, engine=engine, progress=not as_json,
        )  # fmt: skip
        typer.echo(orjson.dumps(outcome.to_json()).decode() if as_json else terminal(render(outcome), newlines=True))
        raise typer.Exit(int(outcome.exit_code))
