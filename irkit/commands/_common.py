"""Helpers shared by command modules: options that mean the same everywhere, output."""

from __future__ import annotations

import os
import sys
from typing import Any

import orjson
import typer

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
