"""`irkit permissions [RUNBOOK]`: the least-privilege IAM policy for the responder (or log-reader) role."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from irkit.commands._common import echo
from irkit.config import load_config
from irkit.engine.runbook import load_runbook

DEFAULT_RUNBOOK = "agent-compromise"


def permissions(
    runbook: Annotated[str, typer.Argument(help="a shipped runbook name or a YAML file")] = DEFAULT_RUNBOOK,
    role: Annotated[
        str, typer.Option("--role", help="responder (contain, restore), log-reader or watcher (irkit watch, read-only)")
    ] = "responder",
    config: Annotated[
        Path | None, typer.Option("--config", "-c", help="irkit.yaml: scope S3 to the archive bucket")
    ] = None,
    dry_run: Annotated[
        bool,
        typer.Option("--dry-run", help="only the reads `irkit contain --dry-run` makes (a staging drill's role)"),
    ] = False,
) -> None:
    """Print the IAM policy JSON the runbook's steps need, from their declared permissions.

    Example: irkit permissions agent-compromise --role log-reader -c irkit.yaml

    With --dry-run the responder policy keeps only what the dry-run guard lets through: the role a
    rehearsal against a real account can hold without being able to change it.

    Exit codes: 0 printed · 2 usage error (unknown runbook or role).
    """
    from irkit.engine.permissions import archive_policy, dry_run_policy, responder_policy, watcher_policy

    if role not in ("responder", "log-reader", "watcher"):
        raise typer.BadParameter("expected responder, log-reader or watcher", param_hint="--role")
    book = load_runbook(runbook)
    archive = load_config(config).log_archive if config is not None else None
    if role == "watcher":
        policy = watcher_policy(archive)
    elif role == "log-reader":
        policy = archive_policy(book, archive)  # read-only already
    else:
        policy = dry_run_policy(book, archive) if dry_run else responder_policy(book, archive)
    echo(json.dumps(policy, indent=2))


def register(app: typer.Typer) -> None:
    app.command("permissions")(permissions)
