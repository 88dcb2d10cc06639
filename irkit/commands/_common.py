"""Helpers shared by command modules: options that mean the same everywhere, output."""

from __future__ import annotations

import sys
from typing import Any

import orjson
import typer

from irkit.redact import redact, redact_text


def echo(line: str) -> None:
    typer.echo(redact_text(line))


def echo_err(line: str) -> None:
    typer.echo(redact_text(line), err=True)


def print_json(data: Any) -> None:
    sys.stdout.write(orjson.dumps(redact(data), option=orjson.OPT_INDENT_2).decode() + "\n")
