"""The mutation plan stays runnable: its tests exist, pyproject's [tool.mutmut] says the same, and
the constant mutants are real, compiling, one-change mutants of each planned module."""

from __future__ import annotations

import ast
import difflib
import re
import tomllib
from pathlib import Path

import pytest

from tests.mutation.constants import HandMutant, constant_mutants, regex_variants
from tests.mutation.plan import MODULES, selection

ROOT = Path(__file__).resolve().parents[2]


def test_pyproject_mutmut_config_is_the_plan() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["mutmut"]
    assert config["only_mutate"] == [m.path for m in MODULES]
    assert config["pytest_add_cli_args_test_selection"] == selection()
    assert "tests.mutation.order" in config["pytest_add_cli_args"]


@pytest.mark.parametrize("module", MODULES, ids=lambda m: m.name)
def test_every_planned_test_exists(module: object) -> None:
    tests = module.tests  # type: ignore[attr-defined]
    assert tests
    for test in tests:
        path, _, name = test.partition("::")
        assert (ROOT / path).is_file(), test
        if name:
            functions = {n.name for n in ast.parse((ROOT / path).read_text()).body if isinstance(n, ast.FunctionDef)}
            assert name in functions, test


@pytest.mark.parametrize("module", MODULES, ids=lambda m: m.name)
def test_constant_mutants_are_single_changes_that_compile(module: object) -> None:
    path: str = module.path  # type: ignore[attr-defined]
    source = (ROOT / path).read_text(encoding="utf-8")
    mutants = constant_mutants(path, source, module.hand)  # type: ignore[attr-defined]
    assert mutants, f"{path}: no module-level constant mutated"
    names = [m.name for m in mutants]
    assert len(set(names)) == len(names)
    for m in mutants:
        assert m.source != source
        compile(m.source, path, "exec")
        changed = [line for line in difflib.ndiff(source.splitlines(), m.source.splitlines()) if line[:1] in "+-"]
        assert changed and m.line >= 1


def test_regex_variants_drop_alternatives_and_make_optional_parts_required() -> None:
    variants = dict(regex_variants(r"(?i)(ab|cd)_?x{6,}"))
    assert set(variants.values()) >= {r"(?i)(cd)_?x{6,}", r"(?i)(ab)_?x{6,}", r"(?i)(ab|cd)_x{6,}",
                                      r"(?i)(ab|cd)_?x{7,}", r"(?i)(ab|cd)_?x{5,}", r"(ab|cd)_?x{6,}"}  # fmt: skip
    assert dict(regex_variants(r"[a|b?]\?")) == {}  # inside a class or escaped: not syntax
    for pattern in variants.values():
        re.compile(pattern)


def test_hand_mutants_edit_the_named_constant_and_refuse_stale_ones() -> None:
    source = 'ORDER = ("a", "b", "c")\nOTHER = 1\n'
    [added] = [
        m
        for m in constant_mutants("m.py", source, (HandMutant("more", "ORDER", "add", '"z"'),))
        if m.name.startswith("hand")
    ]
    assert 'ORDER = ("a", "b", "c", "z")' in added.source
    [moved] = [
        m
        for m in constant_mutants("m.py", source, (HandMutant("last", "ORDER", "last", '"a"'),))
        if m.name.startswith("hand")
    ]
    assert 'ORDER = ("b", "c", "a")' in moved.source
    with pytest.raises(ValueError, match="not in ORDER"):
        constant_mutants("m.py", source, (HandMutant("gone", "ORDER", "last", '"q"'),))
    with pytest.raises(ValueError, match="no collection constant"):
        constant_mutants("m.py", source, (HandMutant("gone", "NOPE", "add", '"q"'),))


def test_a_sample_is_the_same_subset_for_the_same_mutants_whatever_their_order() -> None:
    from tests.mutation.run import _sampled

    names = [f"m.x_f__mutmut_{i}" for i in range(300)]
    sample = _sampled(names, 100)
    assert len(set(sample)) == 100 and set(sample) <= set(names)
    assert _sampled(list(reversed(names)), 100) == sample
    assert sample != sorted(names)[:100]  # drawn across the module, not its first functions
    assert _sampled(names, None) == _sampled(names, 1000) == sorted(names)
