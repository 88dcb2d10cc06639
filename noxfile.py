"""Developer sessions: `nox -s tests`, `nox -s lint`, `nox -s drill`, `nox -s mutation` (before a release)."""

from __future__ import annotations

import importlib.util
import sys

import nox

nox.options.sessions = ["lint", "tests"]


@nox.session(python="3.11")
def tests(session: nox.Session) -> None:
    session.install("-e", ".[dev]")
    session.run("python", "-m", "pytest", *session.posargs)


@nox.session(python="3.11")
def lint(session: nox.Session) -> None:
    session.install("-e", ".[dev]")
    session.run("ruff", "check", "irkit", "tests", "bench", "noxfile.py")
    session.run("mypy", "--strict", "irkit")
    session.run("lint-imports")


@nox.session(python="3.11")
def drill(session: nox.Session) -> None:
    session.install("-e", ".")
    session.run("irkit", "drill", "--all", "--out", str(session.create_tmp()))


@nox.session(python=False)
def mutation(session: nox.Session) -> None:
    """Mutation testing of the modules whose failure would be silent (guard, masking, journal,
    containment actions, digest verifier), constants included; fails below a module's floor.

    Slow (tens of minutes on two cores), so not part of CI: run it before a release. It runs in the
    environment nox itself runs from, which needs the dev extra (`pip install -e '.[dev]'`).
    `nox -s mutation -- guard redact` runs some modules; `-- --workers 4` uses more cores.
    Scores and survivors: mutants/report.json; docs/reliability.md records the last release's.
    """
    for module in ("mutmut", "pytest", "hypothesis", "parliament"):
        if importlib.util.find_spec(module) is None:
            session.error(f"{module} is missing: run nox from an environment with `pip install -e '.[dev]'`")
    session.run(sys.executable, "-m", "tests.mutation.run", *session.posargs, external=True)
