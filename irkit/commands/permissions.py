"""`irkit permissions [RUNBOOK]`: the least-privilege IAM policy for the responder (or log-reader) role."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from irkit.commands._common import echo
from irkit.config import load_config
from irkit.engine.permissions import archive_policy, responder_policy
from irkit.engine.runbook import load_runbook

DEFAULT_RUNBOOK = "agent-compromise"


def permissions(
    runbook: Annotated[str, typer.Argument(help="a shipped runbook name or a YAML file")] = DEFAULT_RUNBOOK,
    role: Annotated[
        str, typer.Option("--role", help="responder (contain, restore) or log-reader")
    ] = "responder",
    config: Annotated[
        Path | None, typer.Option("--config", "-c", help="irkit.yaml: scope S3 to the archive bucket")
    ] = None,
) -> None:
    """Print the IAM policy JSON the runbook's steps need, from their declared permissions.

    Example: irkit permissions agent-compromise --role log-reader -c irkit.yaml

    Exit codes: 0 printed · 2 usage error (unknown runbook or role).
    """
    if role not in ("responder", "log-reader"):
        raise typer.BadParameter("expected responder or log-reader", param_hint="--role")
    book = load_runbook(runbook)
    archive = load_config(config).log_archive if config is not None else None
    policy = responder_policy(book, archive) if role == "responder" else archive_policy(book, archive)
    echo(json.dumps(policy, indent=2))


def register(app: typer.Typer) -> None:
    app.command("permissions")(permissions)
