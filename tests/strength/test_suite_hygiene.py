"""The suite itself: every test asserts, and no test's only assertions sit in a loop that may run
zero times.

A test whose every ``assert`` is inside a ``for`` over data it computed passes when the data is
empty, which is exactly when something is wrong. A loop over a literal (``for x in ("a", "b")``)
always runs; any other loop needs an assertion outside it as well (``assert items`` will do).
Assertions are ``assert`` statements, ``pytest.raises`` blocks and calls to helpers named
``assert_*``.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]


def _is_assertion(node: ast.AST) -> bool:
    if isinstance(node, ast.Assert):
        return True
    if isinstance(node, ast.With | ast.AsyncWith):
        return any(
            isinstance(item.context_expr, ast.Call) and ast.unparse(item.context_expr.func).endswith("raises")
            for item in node.items
        )
    if isinstance(node, ast.Call):
        name = ast.unparse(node.func).rsplit(".", 1)[-1]
        return name.startswith("assert_")
    return False


def _literal_loop(node: ast.For | ast.AsyncFor) -> bool:
    """A loop over a non-empty literal, or over range(N) with a literal N > 0, always runs."""
    it = node.iter
    if isinstance(it, ast.Tuple | ast.List | ast.Set) and it.elts:
        return True
    if isinstance(it, ast.Call) and ast.unparse(it.func) == "range" and len(it.args) == 1:
        arg = it.args[0]
        return isinstance(arg, ast.Constant) and isinstance(arg.value, int) and arg.value > 0
    return False


def _assertions_outside_loops(node: ast.AST, in_loop: bool = False) -> Iterator[bool]:
    """For each assertion in ``node``: True when it runs whatever the data (not in a data loop)."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda | ast.ClassDef):
            continue  # a nested helper's body runs only when called
        if _is_assertion(child):
            yield not in_loop
        loop = isinstance(child, ast.While) or (isinstance(child, ast.For | ast.AsyncFor) and not _literal_loop(child))
        yield from _assertions_outside_loops(child, in_loop or loop)


def _test_functions() -> Iterator[tuple[str, ast.FunctionDef]]:
    for path in sorted(TESTS.rglob("test_*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in tree.body:
            if isinstance(node, ast.FunctionDef) and node.name.startswith("test_"):
                yield f"{path.relative_to(TESTS.parent)}::{node.name}", node


def test_no_test_keeps_its_only_assertions_in_a_loop_that_may_not_run() -> None:
    checked, offenders = 0, []
    for name, fn in _test_functions():
        found = list(_assertions_outside_loops(fn))
        checked += 1
        if not any(found):  # no assertion at all, or only inside loops over computed data
            offenders.append(name)
    assert checked > 200
    assert offenders == []


def test_the_check_sees_a_loop_that_may_not_run() -> None:
    bad = ast.parse("def test_x():\n    for item in compute():\n        assert item\n").body[0]
    good = ast.parse(
        "def test_y():\n    items = compute()\n    assert items\n    for i in items:\n        assert i\n"
    ).body[0]
    literal = ast.parse("def test_z():\n    for k in ('a', 'b'):\n        assert k\n").body[0]
    raises = ast.parse("def test_w():\n    with pytest.raises(E):\n        f()\n").body[0]
    assert not any(_assertions_outside_loops(bad))
    assert any(_assertions_outside_loops(good))
    assert all(_assertions_outside_loops(literal))
    assert all(_assertions_outside_loops(raises))
