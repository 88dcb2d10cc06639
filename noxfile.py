"""Developer sessions: `nox -s tests`, `nox -s lint`, `nox -s drill`."""

from __future__ import annotations

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
