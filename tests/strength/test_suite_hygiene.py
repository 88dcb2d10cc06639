"""The suite itself: every test asserts, and no test's only assertions sit in a loop that may run
zero times.

A test whose every ``assert`` is inside a ``for`` over data it computed passes when the data is
empty, which is exactly when something is wrong. A loop over a literal (``for x in ("a", "b")``),
or over a module-level name bound once to a non-empty literal (``PARSERS = {...}``; its ``.keys()``,
``.values()``, ``.items()`` too), always runs; any other loop needs an assertion outside it as well
(``assert items`` will do).
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


def _non_empty_literal(node: ast.AST) -> bool:
    if isinstance(node, ast.Tuple | ast.List | ast.Set):
        return bool(node.elts)
    return isinstance(node, ast.Dict) and bool(node.keys)


def _module_literals(tree: ast.Module) -> frozenset[str]:
    """Module-level names bound exactly once, to a non-empty literal."""
    bound: dict[str, list[ast.AST | None]] = {}
    for node in ast.walk(tree):
        targets: list[ast.expr] = []
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, ast.AnnAssign | ast.AugAssign | ast.For | ast.AsyncFor | ast.NamedExpr):
            targets = [node.target]
        for target in targets:
            if isinstance(target, ast.Name):
                value = node.value if isinstance(node, ast.Assign | ast.AnnAssign) and node in tree.body else None
                bound.setdefault(target.id, []).append(value)
    return frozenset(
        name for name, values in bound.items()
        if len(values) == 1 and values[0] is not None and _non_empty_literal(values[0])
    )  # fmt: skip


def _literal_loop(node: ast.For | ast.AsyncFor, constants: frozenset[str] = frozenset()) -> bool:
    """A loop over a non-empty literal (or a module constant bound to one, or its keys/values/items),
    or over range(N) with a literal N > 0, always runs."""
    it = node.iter
    if _non_empty_literal(it):
        return True
    if (
        isinstance(it, ast.Call)
        and not it.args
        and isinstance(it.func, ast.Attribute)
        and it.func.attr in {"keys", "values", "items"}
    ):
        it = it.func.value
    if isinstance(it, ast.Name) and it.id in constants:
        return True
    if isinstance(it, ast.Call) and ast.unparse(it.func) == "range" and len(it.args) == 1:
        arg = it.args[0]
        return isinstance(arg, ast.Constant) and isinstance(arg.value, int) and arg.value > 0
    return False


def _assertions_outside_loops(
    node: ast.AST, in_loop: bool = False, constants: frozenset[str] = frozenset()
) -> Iterator[bool]:
    """For each assertion in ``node``: True when it runs whatever the data (not in a data loop)."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda | ast.ClassDef):
            continue  # a nested helper's body runs only when called
        if _is_assertion(child):
            yield not in_loop
        loop = isinstance(child, ast.While) or (
            isinstance(child, ast.For | ast.AsyncFor) and not _literal_loop(child, constants)
        )
        yield from _assertions_outside_loops(child, in_loop or loop, constants)


def _test_functions() -> Iterator[tuple[str, ast.FunctionDef, frozenset[str]]]:
    for path in sorted(TESTS.rglob("test_*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        constants = _module_literals(tree)
        for node in tree.body:
            if isinstance(node, ast.FunctionDef) and node.name.startswith("test_"):
                yield f"{path.relative_to(TESTS.parent)}::{node.name}", node, constants


def test_no_test_keeps_its_only_assertions_in_a_loop_that_may_not_run() -> None:
    checked, offenders = 0, []
    for name, fn, constants in _test_functions():
        found = list(_assertions_outside_loops(fn, constants=constants))
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


def test_a_module_constant_loop_always_runs_only_when_bound_once_to_a_non_empty_literal() -> None:
    def verdict(source: str) -> bool:
        tree = ast.parse(source)
        fn = next(n for n in tree.body if isinstance(n, ast.FunctionDef))
        return any(_assertions_outside_loops(fn, constants=_module_literals(tree)))

    loop = "def test_x():\n    for k in ODD.values():\n        assert k\n"
    assert verdict("ODD = {'a': 1}\n" + loop)
    assert not verdict("ODD = {}\n" + loop)
    assert not verdict("ODD = compute()\n" + loop)
    assert not verdict("ODD = {'a': 1}\nODD = {}\n" + loop)
    assert not verdict(loop)
