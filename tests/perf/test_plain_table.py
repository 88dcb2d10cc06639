"""`irkit.commands._table.table` answers exactly what `tabulate(rows, headers=...)` does: on the
real `rules list` tables (laid out without importing tabulate) and on every table it hands over."""

from __future__ import annotations

import pytest
from tabulate import tabulate

from irkit.commands._table import _plain, table
from irkit.detect.attack import coverage
from irkit.detect.catalog import catalog


def _rules_rows() -> tuple[list[list[str]], list[str]]:
    rows = [[e["id"], e["kind"], e["severity"], ", ".join(e["mitre"]), e["title"]] for e in catalog()]
    return rows, ["id", "kind", "severity", "mitre", "title"]


def _attack_rows() -> tuple[list[list[str]], list[str]]:
    rows = [
        [r["tactic"], r["technique"], r["name"], ", ".join(r["rules"]) or "NOT COVERED"] for r in coverage(catalog())
    ]
    return rows, ["tactic", "technique", "name", "rules"]


@pytest.mark.parametrize("make", [_rules_rows, _attack_rows])
def test_the_rules_list_tables_are_laid_out_here_as_tabulate_would(make: object) -> None:
    rows, headers = make()  # type: ignore[operator]
    assert len(rows) > 20
    assert _plain(rows, headers)  # the fast path, not tabulate
    assert table(rows, headers) == tabulate(rows, headers=headers)


PLAIN = [
    ([["a", "bb"], ["ccc", "d"]], ["x", "y"]),  # headers plus two wider than the cells
    ([["a-long-cell-value", "b"]], ["h", "header"]),
    ([["a", ""], ["b", "c"]], ["x", "y"]),  # an empty cell among text
    ([["1", "a"], ["b", "2"]], ["x", "y"]),  # numbers in text columns stay text
    ([["x y", "T1078.004, T1098"]], ["with space", "mitre"]),
]
HANDED_OVER = [
    ([["1", "a"], ["22", "b"]], ["n", "t"]),  # a column of numbers: right-aligned by tabulate
    ([["1.5", "a"], ["2,000", "b"]], ["n", "t"]),
    ([["True", "a"], ["False", "b"]], ["flag", "t"]),
    ([["", "a"], ["", "b"]], ["empty", "t"]),
    ([[" padded", "a"]], ["x", "y"]),
    ([["naïve", "a"]], ["x", "y"]),
    ([["two\nlines", "a"]], ["x", "y"]),
    ([["\x1b[31mred\x1b[0m", "a"]], ["x", "y"]),
    ([[1, "a"], [22, "b"]], ["n", "t"]),
    ([["a"]], ["x", "y"]),  # a short row
    ([], ["x", "y"]),
]


@pytest.mark.parametrize(("rows", "headers"), PLAIN)
def test_plain_tables_match_tabulate(rows: list[list[str]], headers: list[str]) -> None:
    assert _plain(rows, headers)
    assert table(rows, headers) == tabulate(rows, headers=headers)


@pytest.mark.parametrize(("rows", "headers"), HANDED_OVER)
def test_other_tables_go_to_tabulate(rows: list[list[object]], headers: list[str]) -> None:
    assert not _plain(rows, headers)
    assert table(rows, headers) == tabulate(rows, headers=headers)
