"""`irkit init`: write a commented example irkit.yaml."""

from __future__ import annotations

from pathlib import Path

import typer

from irkit.commands._common import echo
from irkit.config import EXAMPLE_CONFIG
from irkit.errors import UsageError


def init(
    path: Path = typer.Option(Path("irkit.yaml"), "--path", help="where to write it"),
    force: bool = typer.Option(False, "--force", help="overwrite an existing file"),
) -> None:
    """Scaffold irkit.yaml with every key explained.

    Example: irkit init && $EDITOR irkit.yaml

    Exit codes: 0 written · 2 the file exists already or cannot be written.
    """
    if path.exists() and not force:
        raise UsageError(f"{path} exists; pass --force to overwrite it")
    path.write_text(EXAMPLE_CONFIG, encoding="utf-8")
    echo(f"wrote {path}: fill in your log archive and agents, then `irkit contain AGENT --dry-run`")


def register(app: typer.Typer) -> None:
    app.command("init")(init)
