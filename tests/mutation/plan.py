"""What ``nox -s mutation`` mutates, with which tests, and the score each module must keep.

Each module runs only the tests that exercise it (fast unit tests and the few moto-server tests that
matter): a surviving mutant runs every selected test that reaches the mutated function, so a broad
selection costs minutes per survivor. The union of the selections is ``[tool.mutmut]`` in
pyproject.toml (for a plain ``mutmut run``); a meta-test keeps the two in step.
"""

from __future__ import annotations

from dataclasses import dataclass

from tests.mutation.constants import HandMutant


@dataclass(frozen=True, slots=True)
class Module:
    name: str
    path: str
    tests: tuple[str, ...]
    floor: float
    """Minimum mutation score in percent, function and constant mutants together."""
    hand: tuple[HandMutant, ...] = ()
    sample: int | None = None
    """Run only this many of mutmut's mutants, drawn with a fixed seed (every constant mutant runs):
    a surviving mutant of these modules runs moto-server tests for minutes."""


SAMPLE = 150
SEED = 17

MODULES: tuple[Module, ...] = (
    Module(
        "guard",
        "irkit/aws/guard.py",
        (
            "tests/strength/test_guard.py",
            "tests/engine/test_executor.py::test_dry_run_guard_stops_a_misbehaving_step",
        ),
        90.0,
        (
            # Write verbs treated as reads: the mutants the issue found surviving.
            HandMutant("Delete is a read", "READ_PREFIXES", "add", '"Delete"'),
            HandMutant("Generate is a read", "READ_PREFIXES", "add", '"Generate"'),
            HandMutant("Create is a read", "READ_PREFIXES", "add", '"Create"'),
        ),
    ),
    Module(
        "redact",
        "irkit/redact.py",
        (
            "tests/strength/test_redact.py",
            "tests/engine/test_journal.py::test_secrets_never_reach_the_journal",
        ),
        90.0,
    ),
    Module(
        "journal",
        "irkit/core/journal.py",
        ("tests/strength/test_journal.py", "tests/engine/test_journal.py", "tests/engine/test_journal_verify.py"),
        90.0,
        sample=SAMPLE,
    ),
    Module(
        "containment",
        "irkit/contain/actions.py",
        (
            "tests/strength/test_containment.py",
            "tests/strength/test_policies.py",
            "tests/contain/test_revoke.py",
            "tests/contain/test_restore.py",
        ),
        85.0,
        (
            # The credentials an attacker is using cut last instead of first.
            HandMutant("keys cut last", "ORDER", "last", '"deactivate-access-key"'),
            HandMutant("role sessions revoked last", "ORDER", "last", '"revoke-role-sessions"'),
        ),
        sample=SAMPLE,
    ),
    Module(
        "digest",
        "irkit/cloudtrail/digest.py",
        (
            "tests/strength/test_digest.py",
            "tests/cloudtrail/test_digest.py",
            "tests/cloudtrail/test_recover.py",
            "tests/cloudtrail/test_verify_command.py",
        ),
        85.0,
        sample=SAMPLE,
    ),
)


def selection() -> list[str]:
    """The union of every module's tests, in plan order (``[tool.mutmut]`` lists the same); a test
    of a file that is selected whole is not listed again."""
    tests = list(dict.fromkeys(t for m in MODULES for t in m.tests))
    return [t for t in tests if t.split("::")[0] == t or t.split("::")[0] not in tests]
