"""One name per thing: every step, rule, detector and drill scenario registers under its module's name,
mapped the one way :func:`irkit.core.names.registered_name` states (``foo_bar.py`` → ``foo_bar``, a
scenario ``foo-bar``). Each registry check is also shown refusing a misnamed fake."""

from __future__ import annotations

import importlib
import pkgutil
import sys
import textwrap
from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest

import irkit.detect.rules as rules_package
import irkit.drill.scenarios as scenarios_package
from irkit.core.names import RegistryKind, registered_name
from irkit.detect.detectors import discover, registered
from irkit.detect.rules import all_rules
from irkit.steps import registry


def misnamed(kind: RegistryKind, entries: Iterable[tuple[str, str]]) -> list[str]:
    """The (module, registered name) pairs whose name is not the module's, said for the failure message."""
    return [
        f"{kind} module {module!r} registers {name!r}, expected {registered_name(kind, module)!r}"
        for module, name in entries
        if name != registered_name(kind, module)
    ]


def _modules(path: Iterable[str], *, skip: Iterable[str] = ()) -> list[str]:
    skipped = set(skip)
    return [m.name for m in pkgutil.iter_modules(list(path)) if not m.name.startswith("_") and m.name not in skipped]


def step_entries() -> list[tuple[str, str]]:
    entries = []
    for key, cls in registry().items():
        if not cls.__module__.startswith("irkit."):
            continue  # a test's own fake step (tests register theirs in the same registry)
        module = cls.__module__.rsplit(".", 1)[-1]
        entries.append((module, cls.name))
        entries.append((module, key))  # the registry key is the class's name too
    return entries


def rule_entries() -> list[tuple[str, str]]:
    return [
        (name, importlib.import_module(f"{rules_package.__name__}.{name}").RULE.id)
        for name in _modules(rules_package.__path__)
    ]


def detector_entries() -> list[tuple[str, str]]:
    return [(entry.module, entry.infos[0].id) for entry in registered()]


def scenario_entries() -> list[tuple[str, str]]:
    return [
        (name, importlib.import_module(f"{scenarios_package.__name__}.{name}").SCENARIO.name)
        for name in _modules(scenarios_package.__path__)
    ]


# -- the registries as they are --------------------------------------------------------------------------
def test_every_step_is_registered_under_its_module_name() -> None:
    entries = step_entries()
    modules = {module for module, _ in entries}
    assert {"collect", "verify", "detect", "contain", "contain_chain", "report"} <= modules
    assert misnamed("step", entries) == []


def test_every_rule_is_registered_under_its_module_name() -> None:
    entries = rule_entries()
    assert len(entries) == len(all_rules()) >= 40  # every module a rule, every rule found
    assert misnamed("rule", entries) == []


def test_every_detector_is_registered_under_its_module_name() -> None:
    entries = detector_entries()
    import irkit.detect.detectors as detectors_package

    assert sorted(m for m, _ in entries) == sorted(_modules(detectors_package.__path__))
    assert len(entries) >= 7
    assert misnamed("detector", entries) == []


def test_every_scenario_is_registered_under_its_module_name() -> None:
    entries = scenario_entries()
    assert ("crypto_mining", "crypto-mining") in entries
    assert len(entries) >= 6
    assert misnamed("scenario", entries) == []


# -- the checks can fail ---------------------------------------------------------------------------------
def test_the_checker_names_a_misnamed_entry_of_every_kind() -> None:
    assert misnamed("step", [("contain_chain", "revoke_chain")]) == [
        "step module 'contain_chain' registers 'revoke_chain', expected 'contain_chain'"
    ]
    assert misnamed("rule", [("iam_user_created", "iam-user-created")])
    assert misnamed("detector", [("secret_read_unusual", "bedrock_invocation_unusual")])
    assert misnamed("scenario", [("crypto_mining", "crypto_mining")])
    assert misnamed("scenario", [("crypto_mining", "crypto-mining")]) == []


_DETECTOR_MODULE = """
from __future__ import annotations

from irkit.detect.detector import DetectorInfo


class Fake:
    info = DetectorInfo(
        id={id!r}, title="t", severity="low", mitre=(), why="w", remediation="r", tactic="discovery"
    )
    events = None
    failed_only = False

    def __init__(self, context: object) -> None:
        pass


DETECTOR = Fake
"""


@pytest.fixture
def fake_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, Path]]:
    """An importable empty package (its modules are dropped from sys.modules afterwards)."""
    name = f"fake_registry_{tmp_path.name.replace('-', '_')}"
    folder = tmp_path / name
    folder.mkdir()
    (folder / "__init__.py").write_text("")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield name, folder
    for module in [m for m in sys.modules if m == name or m.startswith(name + ".")]:
        del sys.modules[module]


def test_the_detector_registry_refuses_an_id_other_than_the_module_name(fake_package: tuple[str, Path]) -> None:
    name, folder = fake_package
    (folder / "good_detector.py").write_text(textwrap.dedent(_DETECTOR_MODULE.format(id="good_detector")))
    assert [entry.module for entry in discover(name, [str(folder)])] == ["good_detector"]
    (folder / "renamed_detector.py").write_text(textwrap.dedent(_DETECTOR_MODULE.format(id="old_name")))
    with pytest.raises(ValueError, match="'old_name' differs from its module name 'renamed_detector'"):
        discover(name, [str(folder)])


def test_the_detector_registry_refuses_a_module_without_a_detector(fake_package: tuple[str, Path]) -> None:
    name, folder = fake_package
    (folder / "_helpers.py").write_text("X = 1\n")  # private: skipped
    (folder / "stray.py").write_text("X = 1\n")
    with pytest.raises(TypeError, match="does not define DETECTOR"):
        discover(name, [str(folder)])


def test_the_rule_registry_refuses_an_id_other_than_the_module_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    extra = tmp_path / "rules"
    extra.mkdir()
    (extra / "zz_misnamed_rule.py").write_text(
        textwrap.dedent(
            """
            from irkit.detect.rules.iam_user_created import RULE as _REAL
            from dataclasses import replace

            RULE = replace(_REAL, id="zz_other_name")
            """
        )
    )
    monkeypatch.setattr(rules_package, "__path__", [*rules_package.__path__, str(extra)])
    try:
        with pytest.raises(ValueError, match="'zz_other_name' differs from its module name 'zz_misnamed_rule'"):
            all_rules.__wrapped__()
    finally:
        sys.modules.pop(f"{rules_package.__name__}.zz_misnamed_rule", None)
