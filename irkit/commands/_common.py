"""Helpers shared by command modules: options that mean the same everywhere, output."""

from __future__ import annotations

import sys
from typing import Any

import orjson
import typer

from irkit.escape import terminal
from irkit.redact import redact, redact_text


# Step summaries, plans and notes quote CloudTrail values (event ids, role names, keys): any
# escape sequence in them is shown as text (``\x1b``), never sent to the terminal.
def echo(line: str) -> None:
    typer.echo(terminal(redact_text(line), newlines=True))


def echo_err(line: str) -> None:
    typer.echo(terminal(redact_text(line), newlines=True), err=True)


def print_json(data: Any) -> None:
    sys.stdout.write(orjson.dumps(redact(data), option=orjson.OPT_INDENT_2).decode() + "\n")
