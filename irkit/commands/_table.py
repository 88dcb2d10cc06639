"""``tabulate(rows, headers=headers)`` for a table of plain text, without importing tabulate.

tabulate's import asks the installed packages' metadata for its own version (``importlib.metadata``,
~15 ms, a tenth of ``irkit rules list``). A table whose every cell is plain text — a printable ASCII
``str`` without surrounding spaces, in a column that is not all numbers or booleans (which tabulate
aligns otherwise) — is laid out here exactly as tabulate's default ``simple`` format does: each
column as wide as its widest cell or its header plus two, left-aligned, two spaces apart, a line of
dashes under the headers, trailing spaces cut. Any other table goes to tabulate itself.
"""

from __future__ import annotations

from collections.abc import Sequence


def _maybe_number(cell: str) -> bool:
    """Could tabulate read ``cell`` as a number or a boolean? (A superset of what it does.)"""
    if cell in ("True", "False"):
        return True
    try:
        float(cell.replace(",", ""))
    except ValueError:
        return False
    return True


def _plain(rows: Sequence[Sequence[object]], headers: Sequence[str]) -> bool:
    if not rows or not headers or any(len(row) != len(headers) for row in rows):
        return False
    for cell in (*headers, *(cell for row in rows for cell in row)):
        if type(cell) is not str or not (cell.isascii() and cell.isprintable()) or cell != cell.strip():
            return False
    columns = zip(*rows, strict=True)
    return not any(all(_maybe_number(cell) for cell in column if cell) for column in columns)


def table(rows: Sequence[Sequence[object]], headers: Sequence[str]) -> str:
    """What ``tabulate(rows, headers=headers)`` returns."""
    if not _plain(rows, headers):
        from tabulate import tabulate

        return tabulate(rows, headers=list(headers))
    cells = [[str(cell) for cell in row] for row in rows]
    widths = [max(len(header) + 2, *(len(row[i]) for row in cells)) for i, header in enumerate(headers)]

    def line(values: Sequence[str]) -> str:
        return "  ".join(value.ljust(width) for value, width in zip(values, widths, strict=True)).rstrip()

    return "\n".join([line(headers), line(["-" * width for width in widths]), *(line(row) for row in cells)])
