"""Helpers shared by command modules: options that mean the same everywhere, output."""

from __future__ import annotations

import math
import os
import re
import sys
from dataclasses import replace
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer

from irkit.config import Settings
from irkit.engine.run import MAX_HOURS
from irkit.errors import UsageError
from irkit.escape import terminal
from irkit.redact import redact, redact_text

# A line's leading mark, and its colour on a terminal: ✓ done, ! done with gaps, ✗ failed/refused.
_MARK_COLOURS = {"✓": typer.colors.GREEN, "!": typer.colors.YELLOW, "✗": typer.colors.RED}


def use_colour(*, err: bool = False) -> bool:
    """Colour only on a terminal, and never when NO_COLOR is set (https://no-color.org)."""
    if os.environ.get("NO_COLOR"):
        return False
    stream = sys.stderr if err else sys.stdout
    return bool(getattr(stream, "isatty", lambda: False)())


def _coloured(line: str, *, err: bool) -> str:
    stripped = line.lstrip(" ")
    colour = _MARK_COLOURS.get(stripped[:1])
    if colour is None or not use_colour(err=err) or stripped[1:2] not in (" ", ""):
        return line
    indent = line[: len(line) - len(stripped)]
    # Only the mark is coloured: the rest of the line was escaped already and stays as it is.
    return indent + typer.style(stripped[:1], fg=colour, bold=True) + stripped[1:]


# Step summaries, plans and notes quote CloudTrail values (event ids, role names, keys): any
# escape sequence in them is shown as text (``\x1b``), never sent to the terminal.
def echo(line: str) -> None:
    typer.echo(_coloured(terminal(redact_text(line), newlines=True), err=False))


def echo_err(line: str) -> None:
    typer.echo(_coloured(terminal(redact_text(line), newlines=True), err=True), err=True)


def print_json(data: Any) -> None:
    sys.stdout.write(orjson.dumps(redact(data), option=orjson.OPT_INDENT_2).decode() + "\n")


# -- options that mean the same on every command that talks to AWS --------------------------------

def _check_hours(value: float) -> float:
    if not math.isfinite(value) or value <= 0:
        raise typer.BadParameter("must be a positive number of hours (fractions allowed: 0.5 is 30 minutes)")
    if value > MAX_HOURS:
        raise typer.BadParameter(f"reaches back more than ten years (at most {MAX_HOURS})")
    return value


Hours = Annotated[
    float,
    typer.Option(
        "--hours",
        metavar="HOURS",
        callback=_check_hours,
        help=f"How far back to read CloudTrail, in hours (0 < HOURS ≤ {MAX_HOURS}; fractions allowed).",
    ),
]
Config = Annotated[
    Path | None,
    typer.Option(
        "--config",
        "-c",
        metavar="FILE",
        help="irkit.yaml (default: $IRKIT_CONFIG, ./irkit.yaml, ~/.config/irkit/irkit.yaml).",
    ),
]
Profile = Annotated[
    str | None,
    typer.Option("--profile", metavar="NAME", help="AWS profile to use (overrides aws.profile in irkit.yaml)."),
]
Region = Annotated[
    str | None,
    typer.Option("--region", metavar="REGION", help="AWS region for IAM/STS calls (overrides aws.region)."),
]

_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d{1,2}$")


def with_aws(settings: Settings, *, profile: str | None, region: str | None) -> Settings:
    """The settings with --profile / --region applied (as awscli: the flag wins over the file)."""
    if region is not None and not _REGION.match(region):
        raise UsageError(f"--region {region!r} is not an AWS region name (like us-east-1)")
    if profile is None and region is None:
        return settings
    aws = replace(
        settings.aws,
        profile=profile if profile is not None else settings.aws.profile,
        region=region if region is not None else settings.aws.region,
    )
    return replace(settings, aws=aws)
